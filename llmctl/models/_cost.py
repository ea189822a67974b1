"""Prices per token: the alias's `price:` when given, else litellm's bundled cost map.

The cost map is read offline: from `litellm.model_cost` when litellm is already
imported (with LITELLM_LOCAL_MODEL_COST_MAP=True), else straight from the JSON file
litellm ships, so the native path never pays litellm's import time for prices.
"""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from importlib.util import find_spec
from typing import Any

from llmctl.types import ModelSpec

Price = tuple[float, float]  # (input, output) USD per token
_COST_MAP_FILE = "model_prices_and_context_window_backup.json"


@lru_cache(maxsize=1)
def _bundled_cost_map() -> dict[str, Any]:
    spec = find_spec("litellm")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return {}
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, _COST_MAP_FILE)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            return data if isinstance(data, dict) else {}
    return {}


def _cost_map() -> dict[str, Any]:
    litellm = sys.modules.get("litellm")
    model_cost = getattr(litellm, "model_cost", None)
    if isinstance(model_cost, dict) and model_cost:
        return model_cost
    return _bundled_cost_map()


def _lookup(litellm_id: str, provider: str, model: str) -> Price:
    table = _cost_map()
    for key in (litellm_id, f"{provider}/{model}", model):
        entry = table.get(key)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return float(entry.get("input_cost_per_token") or 0.0), float(entry.get("output_cost_per_token") or 0.0)
    return 0.0, 0.0


def price_for(spec: ModelSpec, provider: str = "", model: str = "") -> Price:
    """USD per (prompt, completion) token for `spec`; (0, 0) for unknown and offline models."""
    if spec.offline:
        return 0.0, 0.0
    if spec.input_cost_per_1k is not None or spec.output_cost_per_1k is not None:
        return (spec.input_cost_per_1k or 0.0) / 1000, (spec.output_cost_per_1k or 0.0) / 1000
    if not provider:
        provider, _, model = spec.litellm_id.partition("/")
    return _lookup(spec.litellm_id, provider, model or spec.litellm_id)


def cost_usd(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    return price[0] * prompt_tokens + price[1] * completion_tokens


def estimate_tokens(messages: Any) -> int:
    """A rough prompt-token count for a dry run (about 4 characters a token, as OpenAI's rule of thumb)."""
    from llmctl.images import content_text

    chars = sum(len(content_text(m.get("content"))) + 4 for m in messages)
    return max(1, -(-chars // 4))
