"""API keys: which variable holds a model's key, reading it (trimmed, refused with a control
character inside), checking it is set before a run, and keeping every key out of every message,
output and stored row (replaced with ***).

Scrubbing: a key is scrubbed in every form it may come back in: as set, trimmed (a pasted key
with a trailing newline, echoed back without it), URL-encoded (`quote`, `quote_plus`)
and JSON-escaped. Known keys are the values of the provider key variables, of any
`*_API_KEY` / `*_TOKEN` / `*_SECRET`... variable, of an alias's `api_key_env`, of its
credential-like `headers:` (a name with key, token, secret, auth, password, cookie,
credential, signature or session in it: `X-Api-Key`, `Authorization`), and every key a
model route has read (`register_secret`), so the store writer, which knows no config,
scrubs them too.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from llmctl.errors import InputError
from llmctl.models._providers import NATIVE, PROVIDER_KEY_ENV, provider_of
from llmctl.types import Deployment, ModelSpec

# --- scrubbing ------------------------------------------------------------------------------------

_SECRET_NAME = re.compile(r"(API_KEY|API_TOKEN|_TOKEN|_SECRET|SECRET_KEY|ACCESS_KEY|_KEY)$")
_KNOWN = {name for names in PROVIDER_KEY_ENV.values() for name in names}
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]{6,}")
_SK = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MIN_LEN = 6  # shorter values ("true", "1") are not secrets worth replacing everywhere
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Scrub `value` from now on in this process (a key a model route has read)."""
    if value and len(value.strip()) >= _MIN_LEN:
        _registered.add(value)


# An alias's `headers:` whose name says it carries a credential (X-Api-Key, Authorization,
# X-Auth-Token, Cookie, ...): its value is a secret like an API key.
_SECRET_HEADER = re.compile(r"(?i)key|token|secret|auth|passw|cookie|credential|signature|session")


def register_headers(headers: dict[str, str]) -> None:
    """Scrub from now on the values of the credential-like ones of an alias's `headers:`."""
    for name, value in headers.items():
        if _SECRET_HEADER.search(str(name)) and isinstance(value, str):
            register_secret(value)
            register_secret(value.strip())
            if value.lower().startswith(("bearer ", "basic ", "token ")):
                register_secret(value.split(None, 1)[1] if len(value.split(None, 1)) > 1 else "")


def secret_values(extra_env: Iterable[str] = (), extra_values: Iterable[str] = ()) -> list[str]:
    """Values of known key variables (provider keys, `extra_env`, any *_API_KEY/*_TOKEN...)."""
    names = set(_KNOWN)
    names.update(extra_env)
    values = {os.environ.get(n, "") for n in names}
    values.update(v for k, v in os.environ.items() if _SECRET_NAME.search(k))
    values.update(extra_values)
    values.update(_registered)
    return sorted((v for v in values if len(v.strip()) >= _MIN_LEN), key=len, reverse=True)


def secret_forms(value: str) -> set[str]:
    """The forms in which `value` may come back: as is, trimmed, URL-encoded, JSON-escaped."""
    forms: set[str] = set()
    for v in {value, value.strip()}:
        forms.update((v, quote(v, safe=""), quote_plus(v)))
        forms.update((json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1]))
    return {f for f in forms if len(f.strip()) >= _MIN_LEN}


@functools.lru_cache(maxsize=64)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    forms = {f for v in values for f in secret_forms(v)}
    if not forms:
        return None
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def scrubber(extra_env: Iterable[str] = (), extra_values: Iterable[str] = ()) -> Callable[[str], str]:
    """`scrub` with the secret values read once (for many texts: a batch of rows, a run's outputs)."""
    pattern = _pattern(tuple(secret_values(extra_env, [v for v in extra_values if v])))

    def scrub_text(text: str) -> str:
        if pattern is not None:
            text = pattern.sub("***", text)
        if "earer" in text or "EARER" in text:
            text = _BEARER.sub(r"\1***", text)
        if "sk-" in text:
            text = _SK.sub("sk-***", text)
        return text

    return scrub_text


def scrub(text: str, extra_env: Iterable[str] = (), extra_values: Iterable[str] = ()) -> str:
    """`text` with every secret value (in every form), bearer token and sk-... key replaced by ***."""
    return scrubber(extra_env, extra_values)(text)


def header_key(value: str, env_name: str) -> str:
    """A key read from `env_name`, fit for an HTTP header: surrounding whitespace (a pasted
    trailing newline) is stripped; a control character inside it is refused (InputError)."""
    key = value.strip()
    if _CONTROL.search(key):
        raise InputError(
            f"the key in ${env_name} contains a control character",
            hint="set the variable to the key alone (no newline or tab inside it)",
        )
    return key


# --- which key, and reading it --------------------------------------------------------------------


def key_env_names(spec: ModelSpec) -> tuple[str, ...]:
    """The env var(s) that may hold this model's key: the alias's, else the provider's."""
    if spec.api_key_env:
        return (spec.api_key_env,)
    return PROVIDER_KEY_ENV.get(provider_of(spec.litellm_id), ())


def env_first(names: tuple[str, ...]) -> str | None:
    """The value of the first of `names` that is set (and not empty)."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def model_key(spec: ModelSpec, extra_env: tuple[str, ...] = ()) -> tuple[str | None, tuple[str, ...]]:
    """The model's key (trimmed; InputError if a control character is inside it) and its env names."""
    names = key_env_names(spec) or extra_env
    if not spec.api_key_env:
        names = tuple(dict.fromkeys((*names, *extra_env)))
    for name in names:
        value = os.environ.get(name)
        if value:
            register_secret(value)
            return header_key(value, name) or None, names
    return None, names


def native_key_env(provider: str) -> tuple[str, ...]:
    """The key variables the native transport reads for `provider` (none for one it does not serve)."""
    return NATIVE[provider][2] if provider in NATIVE else ()


def deployment_key(spec: ModelSpec, env_name: str | None) -> tuple[str | None, tuple[str, ...]]:
    """The key of one deployment (its own `api_key_env`, else the alias's or the provider's)."""
    if env_name:
        value = os.environ.get(env_name)
        if value:
            register_secret(value)
            return header_key(value, env_name) or None, (env_name,)
        return None, (env_name,)
    return model_key(spec, native_key_env(spec.litellm_id.partition("/")[0]))


def split_credentials(api_base: str) -> tuple[str, str | None]:
    """`api_base` without `user:pass@`, and those credentials as a Basic Authorization value."""
    parts = urlsplit(api_base)
    if parts.username is None and parts.password is None:
        return api_base, None
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    for secret in (password, f"{user}:{password}"):
        if secret:
            register_secret(secret)
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    register_secret(token)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)), f"Basic {token}"


# --- checking before a run ------------------------------------------------------------------------


def check_credentials(spec: ModelSpec) -> None:
    """Raise InputError early when a hosted model's API key env var is unset.

    Offline built-ins, local servers (an `api_base` without `api_key_env`) and
    providers with no key variable (ollama, hosted_vllm, cloud IAM) need none.
    A key with a control character inside it (not just a trailing newline, which is
    stripped before sending) is refused here too.
    """
    if spec.offline:
        return
    if spec.deployments or spec.fallbacks:
        _check_fleet_credentials(spec)
        return
    for name in key_env_names(spec):  # a key that cannot go in a header is refused before the run
        if os.environ.get(name):
            header_key(os.environ[name], name)
    if spec.api_base and not spec.api_key_env:
        return
    names = key_env_names(spec)
    if not names or any(os.environ.get(n) for n in names):
        return
    provider = provider_of(spec.litellm_id) or spec.litellm_id
    also = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise InputError(
        f"No API key for {provider} — set {names[0]}{also}",
        hint=f"needed by model {spec.name!r}; use the offline 'echo' or 'scripted' model to run without keys",
    )


def _check_fleet_credentials(spec: ModelSpec) -> None:
    """A fleet: each deployment as an alias of its own (its `api_base`, its or the alias's
    `api_key_env`), then each fallback alias."""
    for d in spec.deployments or (Deployment(),):
        check_credentials(
            ModelSpec(
                name=spec.name,
                litellm_id=d.model or spec.litellm_id,
                api_base=d.api_base or spec.api_base,
                api_key_env=d.api_key_env or spec.api_key_env,
            )
        )
    for fallback in spec.fallbacks:
        check_credentials(fallback)
