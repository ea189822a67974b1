"""Which model options the native transport implements (imported by the config parser, so it
imports only the schema). Any other option sends a model through litellm under `transport: auto`, and
is a config error under `transport: native`."""

from __future__ import annotations

from llmctl.schema import TRANSPORTS

TRANSPORT_CHOICES = TRANSPORTS  # llmctl.yaml's `transport:` values, from its schema

# OpenAI chat-completions body fields, sent as they are; plus extra_body / extra_headers.
NATIVE_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "stream_options",
        "extra_body",
        "extra_headers",
    }
)
# OpenAI models that take max_completion_tokens, not max_tokens (litellm maps it).
_COMPLETION_TOKENS_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def native_refusal(provider: str, model: str, params: dict[str, object], env: dict[str, str]) -> str | None:
    """The first option the native path would not honour as litellm does, or None."""
    for key in params:
        if key not in NATIVE_PARAMS:
            return key
    if provider == "openai":
        if "max_tokens" in params and model.startswith(_COMPLETION_TOKENS_PREFIXES):
            return "max_tokens"  # litellm sends it as max_completion_tokens
        for name in ("OPENAI_ORG_ID", "OPENAI_ORGANIZATION", "OPENAI_PROJECT_ID"):
            if env.get(name):
                return name
    return None
