"""Prices per token: the alias's `price:` when given, else litellm's bundled cost map.

From the cost map come the input and output rates and, where the model has them, the rate
of prompt tokens read from the provider's prompt cache (`cache_read_input_token_cost`), of
prompt tokens written to it (`cache_creation_input_token_cost`, Anthropic's cache writes) and
of reasoning tokens (`output_cost_per_reasoning_token`); `cost_usd` prices a call's usage
as litellm's `cost_per_token` does: cached prompt tokens at the cache-read rate, cache-written
prompt tokens at the cache-write rate, reasoning tokens (a part of the completion tokens) at
the reasoning rate, else the output rate.

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
from typing import Any, NamedTuple

from llmctl.types import Messages, ModelSpec


class Price(NamedTuple):
    """USD per token. `cache_read` / `reasoning` / `cache_write`: None where the model has no
    such rate (cached and cache-written prompt tokens then cost the input rate, reasoning tokens
    the output rate)."""

    input: float
    output: float
    cache_read: float | None = None
    reasoning: float | None = None
    cache_write: float | None = None


FREE = Price(0.0, 0.0)
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
            return Price(
                float(entry.get("input_cost_per_token") or 0.0),
                float(entry.get("output_cost_per_token") or 0.0),
                _rate(entry.get("cache_read_input_token_cost")),
                _rate(entry.get("output_cost_per_reasoning_token")),
                _rate(entry.get("cache_creation_input_token_cost")),
            )
    return FREE


def _rate(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def price_for(spec: ModelSpec, provider: str = "", model: str = "") -> Price:
    """USD per (prompt, completion) token for `spec`; (0, 0) for unknown and offline models."""
    if spec.offline:
        return FREE
    if spec.input_cost_per_1k is not None or spec.output_cost_per_1k is not None:
        return Price((spec.input_cost_per_1k or 0.0) / 1000, (spec.output_cost_per_1k or 0.0) / 1000)
    if not provider:
        provider, _, model = spec.litellm_id.partition("/")
    return _lookup(spec.litellm_id, provider, model or spec.litellm_id)


def batch_price_for(spec: ModelSpec) -> tuple[Price, str]:
    """USD per token of `spec`'s calls through a batch API, and where the rate comes from:
    litellm's batch prices (`input_cost_per_token_batches` / `output_cost_per_token_batches`)
    where its cost map has them ("litellm"), else the alias's `price: {batch_input_per_1k,
    batch_output_per_1k}` ("price"), else half the normal price ("half"). Cached and reasoning
    tokens keep their rates halved in the last case, and the normal ones otherwise."""
    if spec.offline:
        return FREE, "half"
    provider, _, model = spec.litellm_id.partition("/")
    if spec.input_cost_per_1k is None and spec.output_cost_per_1k is None:
        table = _cost_map()
        for key in (spec.litellm_id, f"{provider}/{model}", model):
            entry = table.get(key)
            if not isinstance(entry, dict):
                continue
            b_in = _rate(entry.get("input_cost_per_token_batches"))
            b_out = _rate(entry.get("output_cost_per_token_batches"))
            if b_in is not None or b_out is not None:
                normal = _lookup(spec.litellm_id, provider, model)
                return (
                    Price(
                        normal.input / 2 if b_in is None else b_in,
                        normal.output / 2 if b_out is None else b_out,
                        normal.cache_read,
                        normal.reasoning,
                        normal.cache_write,
                    ),
                    "litellm",
                )
            break
    if spec.batch_input_cost_per_1k is not None or spec.batch_output_cost_per_1k is not None:
        batch_in, batch_out = spec.batch_input_cost_per_1k or 0.0, spec.batch_output_cost_per_1k or 0.0
        return Price(batch_in / 1000, batch_out / 1000), "price"
    normal = price_for(spec, provider, model)
    return Price(*(None if rate is None else rate / 2 for rate in normal)), "half"  # type: ignore[arg-type]


def cost_usd(
    price: Price | tuple[float, float],
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    cache_write_tokens: int | None = None,
) -> float:
    """The cost of one call's usage. `cached_tokens` and `cache_write_tokens` are parts of
    `prompt_tokens` and `reasoning_tokens` a part of `completion_tokens` (as OpenAI and litellm
    report them); each is capped at what is left of the count it is a part of."""
    if not isinstance(price, Price):
        price = Price(*price)
    cached = min(max(cached_tokens or 0, 0), max(prompt_tokens, 0))
    written = min(max(cache_write_tokens or 0, 0), max(prompt_tokens - cached, 0))
    reasoning = min(max(reasoning_tokens or 0, 0), max(completion_tokens, 0))
    cache_rate = price.input if price.cache_read is None else price.cache_read
    write_rate = price.input if price.cache_write is None else price.cache_write
    reasoning_rate = price.output if price.reasoning is None else price.reasoning
    return (
        price.input * (prompt_tokens - cached - written)
        + cache_rate * cached
        + write_rate * written
        + price.output * (completion_tokens - reasoning)
        + reasoning_rate * reasoning
    )


def estimate_tokens(messages: Messages) -> int:
    """A rough count of the prompt's text tokens for a dry run (about 4 characters a token, as
    OpenAI's rule of thumb); image parts are left to `estimate_image_tokens`."""
    from llmctl.images import is_image_part

    chars = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and not is_image_part(p))
        chars += len(content if isinstance(content, str) else "" if content is None else str(content)) + 4
    return max(1, -(-chars // 4))


def estimate_image_tokens(messages: Messages, litellm_id: str) -> tuple[int, int]:
    """(images, their prompt tokens) in `messages` for `litellm_id`, by litellm's own estimate
    (`litellm_core_utils.token_counter.estimate_image_tokens`: the provider's tile or patch
    formula from the image's dimensions, read from a data URL's header; for a URL it fetches
    nothing and takes the model's upper bound; a model it has no formula for counts 250).
    Imports litellm only when there is an image."""
    from llmctl.images import is_image_part

    parts = [
        p["image_url"] for m in messages if isinstance(m.get("content"), list) for p in m["content"] if is_image_part(p)
    ]
    if not parts:
        return 0, 0
    from llmctl.models._loader import import_litellm

    import_litellm()
    from litellm.litellm_core_utils.token_counter import estimate_image_tokens as litellm_estimate

    tokens = 0
    for part in parts:
        detail = part.get("detail") if isinstance(part.get("detail"), str) else "auto"
        tokens += int(litellm_estimate(litellm_id, str(part.get("url", "")), detail))
    return len(parts), tokens
