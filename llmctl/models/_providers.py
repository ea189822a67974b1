"""What llmctl knows about each provider, in one table: the environment variables of its key,
whether a missing key is an error before the run, and how the native (OpenAI-compatible)
transport reaches it, or that only litellm can.

A provider missing here is still callable: litellm is asked whether it is OpenAI-compatible
(llmctl.models._routing), and it needs no key check. The dicts below the table are views of it
for the modules that look one thing up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One provider prefix of a litellm id (`openai` in `openai/gpt-4o`)."""

    name: str
    key_env: tuple[str, ...] = ()  # variables that may hold its key; the first is named in messages
    key_required: bool = True  # a hosted provider: no key set is an InputError before the run
    native: bool = False  # OpenAI-compatible at a known base URL: the native transport serves it
    api_base: str | None = None  # native: the default base URL (None: it must come from config or env)
    api_base_env: tuple[str, ...] = ()  # native: variables that override the base URL
    litellm_only: bool = False  # never native: not OpenAI-compatible, or its own auth or URL scheme


def _hosted(name: str, *key_env: str, litellm_only: bool = False) -> Provider:
    return Provider(name=name, key_env=key_env, litellm_only=litellm_only)


def _local(name: str, api_base: str | None, base_env: str, key_env: str) -> Provider:
    return Provider(
        name=name, key_env=(key_env,), key_required=False, native=True, api_base=api_base, api_base_env=(base_env,)
    )


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        name="openai",
        key_env=("OPENAI_API_KEY",),
        native=True,
        api_base="https://api.openai.com/v1",
        api_base_env=("OPENAI_BASE_URL", "OPENAI_API_BASE"),
    ),
    _local("hosted_vllm", None, "HOSTED_VLLM_API_BASE", "HOSTED_VLLM_API_KEY"),
    _local("lm_studio", "http://localhost:1234/v1", "LM_STUDIO_API_BASE", "LM_STUDIO_API_KEY"),
    _local("llamafile", "http://127.0.0.1:8080/v1", "LLAMAFILE_API_BASE", "LLAMAFILE_API_KEY"),
    _local("litellm_proxy", None, "LITELLM_PROXY_API_BASE", "LITELLM_PROXY_API_KEY"),
    _hosted("text-completion-openai", "OPENAI_API_KEY", litellm_only=True),
    _hosted("anthropic", "ANTHROPIC_API_KEY", litellm_only=True),
    _hosted("gemini", "GEMINI_API_KEY", "GOOGLE_API_KEY", litellm_only=True),
    _hosted("mistral", "MISTRAL_API_KEY", litellm_only=True),
    _hosted("codestral", "CODESTRAL_API_KEY"),
    _hosted("cohere", "COHERE_API_KEY", litellm_only=True),
    _hosted("cohere_chat", "COHERE_API_KEY", litellm_only=True),
    _hosted("groq", "GROQ_API_KEY"),
    _hosted("together_ai", "TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_API_KEY"),
    _hosted("fireworks_ai", "FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY"),
    _hosted("deepseek", "DEEPSEEK_API_KEY"),
    _hosted("xai", "XAI_API_KEY"),
    _hosted("perplexity", "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
    _hosted("openrouter", "OPENROUTER_API_KEY", "OR_API_KEY", litellm_only=True),
    _hosted("deepinfra", "DEEPINFRA_API_KEY"),
    _hosted("cerebras", "CEREBRAS_API_KEY"),
    _hosted("azure", "AZURE_API_KEY", "AZURE_OPENAI_API_KEY", litellm_only=True),
    _hosted("azure_ai", "AZURE_AI_API_KEY", litellm_only=True),
    _hosted("huggingface", "HF_TOKEN", "HUGGINGFACE_API_KEY", litellm_only=True),
    _hosted("replicate", "REPLICATE_API_KEY", "REPLICATE_API_TOKEN", litellm_only=True),
    _hosted("anyscale", "ANYSCALE_API_KEY"),
    _hosted("nvidia_nim", "NVIDIA_NIM_API_KEY"),
    _hosted("sambanova", "SAMBANOVA_API_KEY"),
    _hosted("ai21", "AI21_API_KEY"),
    _hosted("ai21_chat", "AI21_API_KEY"),
    _hosted("voyage", "VOYAGE_API_KEY"),
    _hosted("nebius", "NEBIUS_API_KEY"),
    _hosted("novita", "NOVITA_API_KEY"),
    _hosted("moonshot", "MOONSHOT_API_KEY"),
    _hosted("dashscope", "DASHSCOPE_API_KEY"),
    # no key variable (cloud IAM, local servers) and never native
    *(
        Provider(name=name, key_required=False, litellm_only=True)
        for name in (
            "vertex_ai",
            "vertex_ai_beta",
            "bedrock",
            "bedrock_converse",
            "sagemaker",
            "ollama",
            "ollama_chat",
            "watsonx",
            "github_copilot",
            "chatgpt",
            "vllm",
            "databricks",
            "predibase",
            "clarifai",
            "cloudflare",
        )
    ),
)

BY_NAME: dict[str, Provider] = {p.name: p for p in PROVIDERS}

# The environment variable(s) holding each hosted provider's key (the first is named in messages).
PROVIDER_KEY_ENV: dict[str, tuple[str, ...]] = {p.name: p.key_env for p in PROVIDERS if p.key_required and p.key_env}
# provider -> (default api_base, env vars that may override it, env vars of its key): the native transport's
NATIVE: dict[str, tuple[str | None, tuple[str, ...], tuple[str, ...]]] = {
    p.name: (p.api_base, p.api_base_env, p.key_env) for p in PROVIDERS if p.native
}
LITELLM_ONLY: frozenset[str] = frozenset(p.name for p in PROVIDERS if p.litellm_only)


def provider_of(litellm_id: str) -> str:
    """The provider prefix of a litellm id (`openai/gpt-4o` -> `openai`), "" when none."""
    head, sep, _ = litellm_id.partition("/")
    return head if sep else ""
