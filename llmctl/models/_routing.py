"""Which transport serves a model, resolved once per model (not per call).

- `offline`: the built-ins `echo` and `scripted`.
- `native`: OpenAI-compatible endpoints, posted to directly over a pooled aiohttp
  session: `openai/*` (with or without api_base), `hosted_vllm/*`, `lm_studio/*`,
  `llamafile/*`, `litellm_proxy/*`, and any provider that `litellm.get_llm_provider`
  reports as OpenAI-compatible with a known api_base (groq, deepseek, together_ai...).
  The first group never imports litellm.
- `litellm`: everything else (anthropic, gemini, ollama, bedrock...), through
  `litellm.acompletion`; and every alias with `deployments:` or `fallbacks:`, through
  a `litellm.Router` built once per client (see `llmctl.models._litellm.build_router`).

`LLMCTL_TRANSPORT=litellm|native|auto` (default auto) or `ModelClient(transport=...)`
picks: `litellm` sends every online model through litellm; `native` and `auto` use
the native path wherever it applies (a provider that is not OpenAI-compatible always
goes through litellm).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from llmctl.errors import InputError
from llmctl.models._cost import FREE, Price, price_for
from llmctl.models._options import native_refusal
from llmctl.models._resolve import key_env_names
from llmctl.models._scrub import header_key, register_headers, register_secret
from llmctl.types import ModelSpec

TRANSPORTS = ("auto", "native", "litellm")

# provider -> (default api_base, env vars that may override it, env vars of its key)
_NATIVE: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]] = {
    "openai": ("https://api.openai.com/v1", ("OPENAI_BASE_URL", "OPENAI_API_BASE"), ("OPENAI_API_KEY",)),
    "hosted_vllm": (None, ("HOSTED_VLLM_API_BASE",), ("HOSTED_VLLM_API_KEY",)),
    "lm_studio": ("http://localhost:1234/v1", ("LM_STUDIO_API_BASE",), ("LM_STUDIO_API_KEY",)),
    "llamafile": ("http://127.0.0.1:8080/v1", ("LLAMAFILE_API_BASE",), ("LLAMAFILE_API_KEY",)),
    "litellm_proxy": (None, ("LITELLM_PROXY_API_BASE",), ("LITELLM_PROXY_API_KEY",)),
}
# Never native: not OpenAI-compatible, or OpenAI-like with their own auth or URL scheme.
_LITELLM_ONLY = frozenset(
    {
        "anthropic",
        "gemini",
        "vertex_ai",
        "vertex_ai_beta",
        "bedrock",
        "bedrock_converse",
        "sagemaker",
        "ollama",
        "ollama_chat",
        "azure",
        "azure_ai",
        "cohere",
        "cohere_chat",
        "huggingface",
        "replicate",
        "watsonx",
        "github_copilot",
        "chatgpt",
        "text-completion-openai",
        "vllm",
        "openrouter",
        "mistral",
        "databricks",
        "predibase",
        "clarifai",
        "cloudflare",
    }
)


@dataclass
class Route:
    """How to call one model: its transport and, for the native one, URL, model and headers."""

    kind: str  # "offline" | "native" | "litellm"
    provider: str = ""
    model: str = ""  # the model name the endpoint expects
    url: str = ""
    api_key: str | None = None
    key_env: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    price: Price = FREE
    timeout: Any = None  # aiohttp.ClientTimeout, set by the native transport
    timeout_s: float = 60.0
    target: Any = None  # route.url as a yarl.URL, set by the native transport
    router: Any = None  # a litellm.Router, for an alias with deployments or fallbacks
    group_prices: dict[str, Price] = field(default_factory=dict)  # Router model group -> its price
    max_attempts: int = 1  # deployments and fallbacks one Router call may try (each up to the timeout)


def transport_from_env(value: str | None = None) -> str:
    """The transport named by `value` or LLMCTL_TRANSPORT (default auto); InputError if unknown."""
    chosen = (value or os.environ.get("LLMCTL_TRANSPORT") or "auto").strip().lower()
    if chosen not in TRANSPORTS:
        raise InputError(f"unknown LLMCTL_TRANSPORT {chosen!r} (use one of: {', '.join(TRANSPORTS)})")
    return chosen


def _env_first(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _key(spec: ModelSpec, extra_env: tuple[str, ...] = ()) -> tuple[str | None, tuple[str, ...]]:
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


def _native_route(spec: ModelSpec, provider: str, model: str, api_base: str, api_key: str | None) -> Route:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    api_base, basic = split_credentials(api_base)
    if api_key and basic:
        raise InputError(
            f"model {spec.name!r}: its api_base has credentials in the URL and it has an API key; use one of them"
        )
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    elif basic:
        headers["Authorization"] = basic
    headers.update(spec.headers)
    _, key_env = _key(spec)
    return Route(
        kind="native",
        provider=provider,
        model=model,
        url=api_base.rstrip("/") + "/chat/completions",
        api_key=api_key,
        key_env=key_env,
        headers=headers,
        price=price_for(spec, provider, model),
    )


def _litellm_route(spec: ModelSpec, provider: str) -> Route:
    from llmctl.models._litellm import import_litellm

    import_litellm()  # here, not in the first call's measured latency
    extra = _NATIVE[provider][2] if provider in _NATIVE else ()
    api_key, key_env = _key(spec, extra)
    if api_key and spec.api_base and split_credentials(spec.api_base)[1]:
        raise InputError(
            f"model {spec.name!r}: its api_base has credentials in the URL and it has an API key; use one of them"
        )
    return Route(kind="litellm", provider=provider, api_key=api_key, key_env=key_env, price=price_for(spec))


def is_fleet(spec: ModelSpec) -> bool:
    """Whether `spec` goes through litellm's Router (it has deployments or fallbacks)."""
    return bool(spec.deployments or spec.fallbacks)


def needs_litellm(spec: ModelSpec, transport: str = "auto") -> bool:
    """Whether resolving or calling `spec` imports litellm."""
    if spec.offline:
        return False
    if is_fleet(spec):
        return True
    provider, _, model = spec.litellm_id.partition("/")
    if spec.transport in ("native", "litellm"):
        transport = spec.transport
    if transport == "litellm" or provider not in _NATIVE:
        return True
    if native_refusal(provider, model, spec.params, dict(os.environ)) is not None:
        return True
    default_base, base_env, _ = _NATIVE[provider]
    return not (spec.api_base or _env_first(base_env) or default_base)


def resolve_route(spec: ModelSpec, transport: str = "auto") -> Route:
    """Pick the transport for `spec` (see the module docstring). May import litellm once.

    The alias's own `transport:` wins over `transport` (LLMCTL_TRANSPORT). Under `auto` the
    native path serves only calls it makes exactly as litellm would (llmctl.models._options);
    an alias with `transport: native` that it cannot serve is an InputError naming why."""
    if spec.offline:
        return Route(kind="offline", provider=spec.litellm_id)
    for group in (spec, *spec.fallbacks):
        register_headers(group.headers)  # X-Api-Key and the like are scrubbed like API keys
    strict = spec.transport == "native"
    if is_fleet(spec):
        if strict:  # llmctl.config refuses this where it reads llmctl.yaml; a hand-made spec lands here
            raise InputError(f"model {spec.name!r}: transport: native cannot serve deployments or fallbacks")
        return _fleet_route(spec)
    if spec.transport in ("native", "litellm"):
        transport = spec.transport
    route = _pick_route(spec, transport)
    if strict and route.kind != "native":
        raise InputError(
            f"model {spec.name!r} has transport: native, but {spec.litellm_id!r} is not an OpenAI-compatible "
            "endpoint with a known api_base",
            hint="use transport: litellm or auto",
        )
    return route


def deployment_key(spec: ModelSpec, env_name: str | None) -> tuple[str | None, tuple[str, ...]]:
    """The key of one deployment (its own `api_key_env`, else the alias's or the provider's)."""
    if env_name:
        value = os.environ.get(env_name)
        if value:
            register_secret(value)
            return header_key(value, env_name) or None, (env_name,)
        return None, (env_name,)
    provider = spec.litellm_id.partition("/")[0]
    return _key(spec, _NATIVE[provider][2] if provider in _NATIVE else ())


def _fleet_route(spec: ModelSpec) -> Route:
    from llmctl.models._litellm import build_router

    router, prices, key_env, attempts = build_router(spec)
    return Route(
        kind="litellm",
        provider=spec.litellm_id.partition("/")[0],
        key_env=key_env,
        price=prices[spec.name],
        router=router,
        group_prices=prices,
        max_attempts=attempts,
    )


def _pick_route(spec: ModelSpec, transport: str) -> Route:
    provider, _, model = spec.litellm_id.partition("/")
    if transport == "litellm" or provider in _LITELLM_ONLY:
        return _litellm_route(spec, provider)
    refusal = native_refusal(provider, model, spec.params, dict(os.environ))
    if refusal is not None:
        if spec.transport == "native":
            raise InputError(
                f"model {spec.name!r}: {refusal} is not honoured by the native transport as litellm honours it",
                hint="use transport: litellm or auto (auto sends this model through litellm)",
            )
        return _litellm_route(spec, provider)
    if provider in _NATIVE:
        default_base, base_env, key_env = _NATIVE[provider]
        api_base = spec.api_base or _env_first(base_env) or default_base
        if not api_base:
            return _litellm_route(spec, provider)  # litellm reports the missing api_base
        api_key, _ = _key(spec, key_env)
        return _native_route(spec, provider, model, api_base, api_key)
    # Any other provider: ask litellm whether it is OpenAI-compatible, and where it lives.
    from llmctl.models._litellm import import_litellm

    litellm = import_litellm()
    try:
        model_name, resolved, dynamic_key, api_base = litellm.get_llm_provider(spec.litellm_id, api_base=spec.api_base)
    except Exception:
        return _litellm_route(spec, provider)
    if resolved in _LITELLM_ONLY or resolved not in litellm.openai_compatible_providers or not api_base:
        return _litellm_route(spec, provider)
    api_key, _ = _key(spec)
    if not api_key and dynamic_key:
        register_secret(dynamic_key)
        api_key = header_key(dynamic_key, f"{resolved.upper()}_API_KEY") or None
    return _native_route(spec, resolved, model_name, api_base, api_key)


def route_key(spec: ModelSpec) -> tuple[Any, ...]:
    """What a route depends on (ModelSpec is mutable, hence unhashable)."""
    return (
        spec.litellm_id,
        spec.api_base,
        spec.api_key_env,
        spec.input_cost_per_1k,
        spec.output_cost_per_1k,
        spec.timeout,
        spec.transport,
        tuple(sorted(spec.headers.items())),
        tuple(sorted(spec.params)),
        spec.deployments,
        tuple(route_key(f) for f in spec.fallbacks),
    )
