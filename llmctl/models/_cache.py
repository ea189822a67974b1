"""The cache key of one model call: a hash of everything that determines its answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmctl.hashing import canonical_json, sha256_hex
from llmctl.types import Messages, ModelSpec


def cache_key(
    spec: ModelSpec, messages: Messages, params: Mapping[str, Any] | None = None, repeat_index: int = 0
) -> str:
    """sha256 hex of the canonical JSON of model id, api_base, messages, params and repeat index.

    `params` are merged over the spec's own params first (as `complete` sends them),
    so changing an alias's params misses the cache. The scripted model's rules are
    part of its identity too. A fleet alias (`deployments:`) is keyed by its logical model
    (`model:` and the alias's own api_base), not by its deployments: they all serve the same
    model, so adding, removing or re-weighting one keeps the cache.
    """
    merged = {**spec.params, **(params or {})}
    payload: dict[str, Any] = {
        "model": spec.litellm_id,
        "api_base": spec.api_base,
        "messages": messages,
        "params": merged,
        "repeat_index": repeat_index,
    }
    if spec.litellm_id == "scripted":
        payload["scripted"] = {"responses": spec.responses, "default": spec.default, "function": spec.function}
    return sha256_hex(canonical_json(payload))
