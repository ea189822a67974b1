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

import os
from collections.abc import Hashable

from llmctl.errors import InputError
from llmctl.models._cost import price_for
from llmctl.models._credentials import (
    env_first,
    header_key,
    model_key,
    native_key_env,
    register_headers,
    register_secret,
    split_credentials,
)
from llmctl.models._options import native_refusal
from llmctl.models._providers import LITELLM_ONLY, NATIVE
from llmctl.models._transport import ROUTE_RESOLVERS, Route
from llmctl.types import ModelSpec

__all__ = ["TRANSPORTS", "is_fleet", "needs_litellm", "resolve_route", "route_key", "transport_from_env"]

TRANSPORTS = ("auto", "native", "litellm")


def transport_from_env(value: str | None = None) -> str:
    """The transport named by `value` or LLMCTL_TRANSPORT (default auto); InputError if unknown."""
    chosen = (value or os.environ.get("LLMCTL_TRANSPORT") or "auto").strip().lower()
    if chosen not in TRANSPORTS:
        raise InputError(f"unknown LLMCTL_TRANSPORT {chosen!r} (use one of: {', '.join(TRANSPORTS)})")
    return chosen


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
    _, key_env = model_key(spec)
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
    from llmctl.models._loader import import_litellm

    import_litellm()  # here, not in the first call's measured latency
    api_key, key_env = model_key(spec, native_key_env(provider))
    if api_key and spec.api_base and split_credentials(spec.api_base)[1]:
        raise InputError(
            f"model {spec.name!r}: its api_base has credentials in the URL and it has an API key; use one of them"
        )
    return Route(kind="litellm", provider=provider, api_key=api_key, key_env=key_env, price=price_for(spec), spec=spec)


def is_fleet(spec: ModelSpec) -> bool:
    """Whether `spec` goes through litellm's Router (it has deployments or fallbacks)."""
    return bool(spec.deployments or spec.fallbacks)


def needs_litellm(spec: ModelSpec, transport: str = "auto") -> bool:
    """Whether resolving or calling `spec` imports litellm."""
    if spec.offline or spec.transport in ROUTE_RESOLVERS:
        return False
    if is_fleet(spec):
        return True
    provider, _, model = spec.litellm_id.partition("/")
    if spec.transport in ("native", "litellm"):
        transport = spec.transport
    if transport == "litellm" or provider not in NATIVE:
        return True
    if native_refusal(provider, model, spec.params, dict(os.environ)) is not None:
        return True
    default_base, base_env, _ = NATIVE[provider]
    return not (spec.api_base or env_first(base_env) or default_base)


def resolve_route(spec: ModelSpec, transport: str = "auto") -> Route:
    """Pick the transport for `spec` (see the module docstring). May import litellm once.

    The alias's own `transport:` wins over `transport` (LLMCTL_TRANSPORT). Under `auto` the
    native path serves only calls it makes exactly as litellm would (llmctl.models._options);
    an alias with `transport: native` that it cannot serve is an InputError naming why."""
    if spec.offline:
        return Route(kind="offline", provider=spec.litellm_id)
    for group in (spec, *spec.fallbacks):
        register_headers(group.headers)  # X-Api-Key and the like are scrubbed like API keys
    registered = ROUTE_RESOLVERS.get(spec.transport)
    if registered is not None:  # a transport added with llmctl.models.register_transport
        route = registered(spec)
        if route.kind != spec.transport:
            raise ValueError(f"transport {spec.transport!r} resolved model {spec.name!r} to a {route.kind!r} route")
        return route
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
        spec=spec,
    )


def _pick_route(spec: ModelSpec, transport: str) -> Route:
    provider, _, model = spec.litellm_id.partition("/")
    if transport == "litellm" or provider in LITELLM_ONLY:
        return _litellm_route(spec, provider)
    refusal = native_refusal(provider, model, spec.params, dict(os.environ))
    if refusal is not None:
        if spec.transport == "native":
            raise InputError(
                f"model {spec.name!r}: {refusal} is not honoured by the native transport as litellm honours it",
                hint="use transport: litellm or auto (auto sends this model through litellm)",
            )
        return _litellm_route(spec, provider)
    if provider in NATIVE:
        default_base, base_env, key_env = NATIVE[provider]
        api_base = spec.api_base or env_first(base_env) or default_base
        if not api_base:
            return _litellm_route(spec, provider)  # litellm reports the missing api_base
        api_key, _ = model_key(spec, key_env)
        return _native_route(spec, provider, model, api_base, api_key)
    # Any other provider: ask litellm whether it is OpenAI-compatible, and where it lives.
    from llmctl.models._loader import import_litellm

    litellm = import_litellm()
    try:
        model_name, resolved, dynamic_key, api_base = litellm.get_llm_provider(spec.litellm_id, api_base=spec.api_base)
    except Exception:
        return _litellm_route(spec, provider)
    if resolved in LITELLM_ONLY or resolved not in litellm.openai_compatible_providers or not api_base:
        return _litellm_route(spec, provider)
    api_key, _ = model_key(spec)
    if not api_key and dynamic_key:
        register_secret(dynamic_key)
        api_key = header_key(dynamic_key, f"{resolved.upper()}_API_KEY") or None
    return _native_route(spec, resolved, model_name, api_base, api_key)


def route_key(spec: ModelSpec) -> tuple[Hashable, ...]:
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
