"""Unit tests of the eval pipeline's parts (llmctl/run/_pipeline.py), each on its own.

The pipeline as a whole is exercised end to end in tests/run/test_runner.py,
test_interleave.py, test_offload_scoring.py and tests/reliability; here each piece
is checked without a store, a server or a project.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from llmctl.run._pipeline import (
    _assistant_message,
    _BatchedCacheLookup,
    _Breaker,
    _cached_result,
    _interleave,
    _judge_rows,
    _loads_calls,
    tool_result_for,
)
from llmctl.types import CallResult, Case, ModelSpec

# --- the circuit breaker -------------------------------------------------------------------


def _breaker() -> tuple[_Breaker, list[str]]:
    said: list[str] = []
    return _Breaker(said.append, "20261207-1200-ab12"), said


def test_the_breaker_opens_after_the_first_calls_all_fail_the_same_way() -> None:
    breaker, said = _breaker()
    for _ in range(_Breaker.FIRST - 1):
        breaker.record("m", "HTTP 401: invalid api key\ndetails")
    assert breaker.open_for("m") is None and said == []
    breaker.record("m", "HTTP 401: invalid api key\nother details")  # same first line: same cause
    reason = breaker.open_for("m")
    assert reason is not None and "HTTP 401: invalid api key" in reason and str(_Breaker.FIRST) in reason
    assert len(said) == 1 and "--resume 20261207-1200-ab12" in said[0]
    breaker.record("m", "HTTP 401: invalid api key")
    assert len(said) == 1  # warned once
    assert breaker.open_for("other") is None  # per model


def test_a_different_error_or_a_success_restarts_the_count() -> None:
    breaker, _ = _breaker()
    for i in range(3 * _Breaker.FIRST):
        breaker.record("m", "HTTP 500: a" if i % 2 else "HTTP 500: b")
    assert breaker.open_for("m") is None
    breaker.record("m", None)  # after a success it takes LATER identical failures
    for _ in range(_Breaker.LATER - 1):
        breaker.record("m", "HTTP 503: down")
    assert breaker.open_for("m") is None
    breaker.record("m", "HTTP 503: down")
    assert breaker.open_for("m") is not None


@pytest.mark.parametrize("error", ["timeout after 30 s", "HTTP 429: slow down"])
def test_load_dependent_failures_never_open_the_breaker(error: str) -> None:
    breaker, said = _breaker()
    for _ in range(10 * _Breaker.FIRST):
        breaker.record("m", error)
    assert breaker.open_for("m") is None and said == []


def test_the_warning_cannot_drive_the_terminal() -> None:
    breaker, said = _breaker()
    for _ in range(_Breaker.FIRST):
        breaker.record("evil\x1b[2Jmodel", "HTTP 400: \x1b]0;pwned\x07bad")
    assert said and "\x1b" not in said[0] and "\x07" not in said[0]


# --- interleaving ----------------------------------------------------------------------------


def test_interleave_alternates_the_sides_and_drains_the_longer_one() -> None:
    sides: list[Iterator[Any]] = [iter(["b1", "b2", "b3"]), iter(["c1"]), iter([])]
    assert list(_interleave(sides)) == ["b1", "c1", "b2", "b3"]


# --- cached results --------------------------------------------------------------------------


def test_a_cache_entry_becomes_a_cached_result_with_its_stored_cost_when_tokens_are_unknown() -> None:
    hit = {
        "output": "hi",
        "prompt_tokens": None,
        "completion_tokens": None,
        "cost_usd": 0.25,
        "latency_ms": 12.5,
        "ttft_ms": 3.0,
        "tool_calls": json.dumps([{"name": "f", "arguments": {}}]),
        "finish_reason": "stop",
        "turns": None,
    }
    result = _cached_result(hit, ModelSpec(name="m", litellm_id="openai/m"))
    assert result.cached and result.output == "hi" and result.cost_usd == 0.25
    assert result.latency_ms == 12.5 and result.ttft_ms == 3.0 and result.finish_reason == "stop"
    assert result.prompt_tokens is None and result.completion_tokens is None  # unknown stays unknown
    assert result.tool_calls == [{"name": "f", "arguments": {}}] and result.turns is None


def test_a_cache_entry_with_tokens_is_priced_at_todays_price() -> None:
    spec = ModelSpec(name="m", litellm_id="openai/m", input_cost_per_1k=0.001, output_cost_per_1k=0.002)
    hit = {"output": "x", "prompt_tokens": 1_000_000, "completion_tokens": 500_000, "cost_usd": 99.0}
    result = _cached_result(hit, spec)
    assert result.cost_usd == pytest.approx(2.0)  # 1.0 for the prompt + 1.0 for the completion
    assert _cached_result(hit).cost_usd == 99.0  # without the alias: the stored cost


def test_loads_calls_accepts_json_text_or_a_list_and_is_none_for_nothing_or_garbage() -> None:
    assert _loads_calls('[{"name": "f"}]') == [{"name": "f"}]
    assert _loads_calls([{"name": "f"}]) == [{"name": "f"}]
    for nothing in (None, "", "[]", "not json", '{"name": "f"}', 3):
        assert _loads_calls(nothing) is None


# --- tool loops ------------------------------------------------------------------------------


def test_tool_results_by_name_or_in_order() -> None:
    by_name = Case(id="a", vars={}, tool_results={"weather": {"temp": 3}, "time": "noon"})
    assert tool_result_for(by_name, "weather", 0) == '{"temp": 3}'
    assert tool_result_for(by_name, "time", 5) == "noon"
    assert tool_result_for(by_name, "missing", 0) is None
    in_order = Case(id="b", vars={}, tool_results=["first", {"n": "ü"}])
    assert tool_result_for(in_order, "any", 0) == "first"
    assert tool_result_for(in_order, "any", 1) == '{"n": "ü"}'  # not ASCII-escaped
    assert tool_result_for(in_order, "any", 2) is None  # the loop stops
    assert tool_result_for(Case(id="c", vars={}), "f", 0) is None


def test_the_assistant_message_carries_the_calls_back_as_openai_expects() -> None:
    result = CallResult(output="", tool_calls=[{"id": "call_1", "name": "f", "raw_arguments": '{"x": 1}'}])
    assert _assistant_message(result) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
    }


def test_judge_rows_number_the_calls_of_one_score() -> None:
    calls = [
        ("judge-a", CallResult(output="yes", cost_usd=0.1)),
        ("judge-b", CallResult(output=None, error="HTTP 500")),
    ]
    rows = _judge_rows("quality", 2, calls)
    assert [(r.evaluator, r.idx, r.call_index, r.model) for r in rows] == [
        ("quality", 2, 0, "judge-a"),
        ("quality", 2, 1, "judge-b"),
    ]
    assert rows[0].cost_usd == 0.1 and rows[1].error == "HTTP 500"
    assert rows[0].usage == calls[0][1].usage


# --- the judges' batched cache lookup -----------------------------------------------------------


class _CountingStore:
    def __init__(self, hits: dict[str, dict[str, Any]], fail: bool = False) -> None:
        self.hits, self.fail = hits, fail
        self.calls: list[list[str]] = []

    def cache_get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        self.calls.append(sorted(keys))
        if self.fail:
            raise RuntimeError("store is busy")
        return {k: v for k, v in self.hits.items() if k in keys}


def test_lookups_made_together_are_one_store_query() -> None:
    store = _CountingStore({"k1": {"output": "one"}})

    async def main() -> list[dict[str, Any] | None]:
        lookup = _BatchedCacheLookup(store)
        return list(await asyncio.gather(lookup.get("k1"), lookup.get("k2"), lookup.get("k1")))

    assert asyncio.run(main()) == [{"output": "one"}, None, {"output": "one"}]
    assert store.calls == [["k1", "k2"]]


def test_a_failed_lookup_is_a_miss_not_an_error() -> None:
    store = _CountingStore({"k1": {"output": "one"}}, fail=True)

    async def main() -> dict[str, Any] | None:
        return await _BatchedCacheLookup(store).get("k1")

    assert asyncio.run(main()) is None
