"""Model names -> ModelSpec, and the early API-key check. Never imports litellm."""

from __future__ import annotations

import os
from typing import Any

from llmctl.config import Config, ModelAlias
from llmctl.errors import InputError
from llmctl.suggest import did_you_mean
from llmctl.types import Deployment, ModelSpec

BUILTIN_MODELS = ("echo", "scripted")

# The environment variable(s) holding each hosted provider's key (the first is named
# in messages). Providers missing here (local servers, cloud IAM) need no check.
PROVIDER_KEY_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "text-completion-openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "codestral": ("CODESTRAL_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "cohere_chat": ("COHERE_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_API_KEY"),
    "fireworks_ai": ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY", "OR_API_KEY"),
    "deepinfra": ("DEEPINFRA_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
    "azure": ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"),
    "azure_ai": ("AZURE_AI_API_KEY",),
    "huggingface": ("HF_TOKEN", "HUGGINGFACE_API_KEY"),
    "replicate": ("REPLICATE_API_KEY", "REPLICATE_API_TOKEN"),
    "anyscale": ("ANYSCALE_API_KEY",),
    "nvidia_nim": ("NVIDIA_NIM_API_KEY",),
    "sambanova": ("SAMBANOVA_API_KEY",),
    "ai21": ("AI21_API_KEY",),
    "ai21_chat": ("AI21_API_KEY",),
    "voyage": ("VOYAGE_API_KEY",),
    "nebius": ("NEBIUS_API_KEY",),
    "novita": ("NOVITA_API_KEY",),
    "moonshot": ("MOONSHOT_API_KEY",),
    "dashscope": ("DASHSCOPE_API_KEY",),
}


def provider_of(litellm_id: str) -> str:
    """The provider prefix of a litellm id (`openai/gpt-4o` -> `openai`), "" when none."""
    head, sep, _ = litellm_id.partition("/")
    return head if sep else ""


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


def key_env_names(spec: ModelSpec) -> tuple[str, ...]:
    """The env var(s) that may hold this model's key: the alias's, else the provider's."""
    if spec.api_key_env:
        return (spec.api_key_env,)
    return PROVIDER_KEY_ENV.get(provider_of(spec.litellm_id), ())


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
    from llmctl.models._scrub import header_key

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
