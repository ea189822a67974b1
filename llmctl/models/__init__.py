"""The model layer: resolve model names, check keys, and call models for a run.

    spec = resolve_model("openai/gpt-4o-mini", config)   # or an alias, "echo", "scripted"
    check_credentials(spec)                               # InputError when the key is unset
    async with ModelClient(concurrency=20) as client:
        result = await client.complete(spec, messages, {"temperature": 0})

OpenAI-compatible endpoints are called natively over a pooled aiohttp session;
other providers through litellm, which is imported only when first needed
(`LLMCTL_TRANSPORT=litellm|native|auto` chooses; see `llmctl.models._routing`).
"""

from llmctl.models._cache import cache_key
from llmctl.models._client import ModelClient, register_transport
from llmctl.models._cost import estimate_tokens, price_for
from llmctl.models._credentials import scrub
from llmctl.models._limits import TokenBucket
from llmctl.models._offline import echo_text
from llmctl.models._resolve import BUILTIN_MODELS, PROVIDER_KEY_ENV, check_credentials, resolve_model
from llmctl.models._routing import TRANSPORTS

__all__ = [
    "BUILTIN_MODELS",
    "PROVIDER_KEY_ENV",
    "TRANSPORTS",
    "ModelClient",
    "TokenBucket",
    "cache_key",
    "check_credentials",
    "echo_text",
    "estimate_tokens",
    "price_for",
    "register_transport",
    "resolve_model",
    "scrub",
]
