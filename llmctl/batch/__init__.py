"""`llmctl eval --batch`: a run's uncached calls through the providers' batch APIs (via litellm).

    llmctl eval --batch               # submit, wait (a progress line), store and gate as usual
    llmctl eval --batch --no-wait     # submit, store the batch ids, exit 0 ("submitted, not evaluated")
    llmctl eval --resume RUN          # collect what finished; resubmit nothing in flight

Also `batch: true` on an alias in llmctl.yaml (its judge calls too) or on an evalset. The
engine is `llmctl.batch._engine` (imported by a run only when batching); this module is light:
llmctl.config asks it whether an alias can be batched while it reads llmctl.yaml.
"""

from __future__ import annotations

# litellm's batch functions serve these through the OpenAI Files and Batches protocol
# (litellm.types.utils.OPENAI_COMPATIBLE_BATCH_AND_FILES_PROVIDERS); Azure, Vertex AI and
# Bedrock need settings of their own (a storage bucket, an API version) that llmctl does
# not take yet, so they are refused rather than half-supported.
BATCH_PROVIDERS = ("openai", "hosted_vllm", "litellm_proxy")

# OpenAI's limits per batch input file (https://platform.openai.com/docs/guides/batch).
MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024


def batch_refusal(litellm_id: str, fleet: bool = False) -> str | None:
    """Why `litellm_id` cannot go through a batch API (None: it can)."""
    if litellm_id in ("echo", "scripted"):
        return f"the built-in {litellm_id!r} model is offline and has no batch API"
    if fleet:
        return "an alias with deployments or fallbacks goes through litellm's Router, which has no batch API"
    provider = litellm_id.partition("/")[0] if "/" in litellm_id else ""
    if provider not in BATCH_PROVIDERS:
        return (
            f"llmctl sends batches only to OpenAI-compatible batch APIs ({', '.join(BATCH_PROVIDERS)}) so far, "
            f"and {provider or litellm_id!r} is not one"
        )
    return None


__all__ = ["BATCH_PROVIDERS", "MAX_BYTES", "MAX_REQUESTS", "batch_refusal"]
