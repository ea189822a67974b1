"""Model names -> ModelSpec, and the early API-key check. Never imports litellm."""

from __future__ import annotations

import os
from typing import Any

from llmctl.config import Config, ModelAlias
from llmctl.errors import InputError
from llmctl.models._credentials import check_credentials
from llmctl.models._providers import PROVIDER_KEY_ENV, provider_of
from llmctl.suggest import did_you_mean
from llmctl.types import Deployment, ModelSpec

BUILTIN_MODELS = ("echo", "scripted")

__all__ = ["BUILTIN_MODELS", "PROVIDER_KEY_ENV", "check_credentials", "provider_of", "resolve_model"]


def _has_prefix(name: str) -> bool:
    head, sep, rest = name.partition("/")
    return bool(sep and head and rest and head.strip() == head and " " not in head)


def _fleet(alias: ModelAlias, config: Config, follow: bool) -> dict[str, Any]:
    """A fleet alias's deployments (api_base $VARS expanded) and, when `follow`, its fallbacks
    resolved (one level: a fallback's own fallbacks are not followed)."""
    deployments = tuple(
        Deployment(os.path.expandvars(d.api_base) if d.api_base else None, d.model, d.api_key_env, d.weight)
        for d in alias.deployments
    )
    for d in deployments:
        if d.model is not None and not _has_prefix(d.model):
            raise InputError(
                f"model {alias.name!r} has a deployment with model {d.model!r}, which is not a litellm id",
                file=config.path,
                line=alias.line,
            )
    fallbacks: tuple[ModelSpec, ...] = ()
    if follow and alias.fallbacks:
        fallbacks = tuple(_from_alias(config.models[name], config, follow=False) for name in alias.fallbacks)
    return {"deployments": deployments, "fallbacks": fallbacks}


def _from_alias(alias: ModelAlias, config: Config, follow: bool = True) -> ModelSpec:
    if alias.model not in BUILTIN_MODELS and not _has_prefix(alias.model):
        raise InputError(
            f"model {alias.name!r} has model {alias.model!r}, which is not a litellm id",
            file=config.path,
            hint="use a provider prefix, e.g. openai/gpt-4o-mini or hosted_vllm/<model>",
        )
    api_base = os.path.expandvars(alias.api_base) if alias.api_base else None
    spec = ModelSpec(
        name=alias.name,
        litellm_id=alias.model,
        api_base=api_base,
        api_key_env=alias.api_key_env,
        params=dict(alias.params),
        input_cost_per_1k=alias.input_cost_per_1k,
        output_cost_per_1k=alias.output_cost_per_1k,
        batch_input_cost_per_1k=alias.batch_input_cost_per_1k,
        batch_output_cost_per_1k=alias.batch_output_cost_per_1k,
        batch=alias.batch,
        max_concurrency=alias.max_concurrency,
        rpm=alias.rpm,
        tpm=alias.tpm,
        timeout=alias.timeout if alias.timeout is not None else config.timeout,
        retries=config.retries,
        stream=alias.stream,
        transport=alias.transport,
        headers=dict(alias.headers),
        responses=dict(alias.responses) if alias.responses is not None else None,
        default=alias.default,
        function=alias.function,
        latency_ms=alias.latency_ms,
        **_fleet(alias, config, follow),
    )
    if spec.transport == "native" and not spec.offline:
        from llmctl.models._routing import resolve_route

        try:  # refused here, before any call: an option or endpoint the native path cannot serve
            resolve_route(spec)
        except InputError as exc:
            raise InputError(exc.message, file=config.path, hint=exc.hint) from None
    return spec


def resolve_model(name: str, config: Config) -> ModelSpec:
    """An llmctl.yaml alias, a built-in (`echo`, `scripted`) or a raw litellm id -> ModelSpec.

    Aliases win over built-ins and ids of the same spelling. Raises InputError for a
    name that is none of these (no `provider/` prefix), listing the known aliases.
    """
    name = name.strip()
    alias = config.models.get(name)
    if alias is not None:
        spec = _from_alias(alias, config)
    elif name in BUILTIN_MODELS:
        spec = ModelSpec(name=name, litellm_id=name, timeout=config.timeout, retries=config.retries)
    elif _has_prefix(name):
        spec = ModelSpec(name=name, litellm_id=name, timeout=config.timeout, retries=config.retries)
    else:
        known = ", ".join(sorted(config.models)) or "none"
        guess = did_you_mean(name, [*config.models, *BUILTIN_MODELS])
        raise InputError(
            f"unknown model {name!r}: not an alias in llmctl.yaml (aliases: {known}), "
            f"a built-in ({', '.join(BUILTIN_MODELS)}) or a litellm id",
            hint=guess
            or "litellm ids have a provider prefix, e.g. openai/gpt-4o-mini, "
            "anthropic/claude-3-5-haiku-latest, ollama/llama3.1, hosted_vllm/<model>",
        )
    if spec.function is not None and ":" not in spec.function:
        raise InputError(f"model {name!r}: function {spec.function!r} must be 'module:function'", file=config.path)
    return spec
