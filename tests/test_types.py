"""`llmctl.types.Usage`: one token-count type for a call and for sums of calls."""

from __future__ import annotations

import dataclasses

import pytest

from llmctl.models._response import Usage as ResponseUsage
from llmctl.spend import Spend, spend_of
from llmctl.types import TOKEN_FIELDS, CallResult, CaseOutcome, Usage


def test_usage_adds_counts_and_details() -> None:
    a = Usage(10, 5, cached_tokens=4, reasoning_tokens=None, cache_write_tokens=1)
    b = Usage(7, 3, cached_tokens=None, reasoning_tokens=2, cache_write_tokens=2)
    assert a + b == Usage(17, 8, cached_tokens=4, reasoning_tokens=2, cache_write_tokens=3)
    assert Usage(0, 0) + a == a  # zero: the start of a sum
    assert sum([a, b], Usage(0, 0)) == a + b


def test_an_unknown_count_stays_unknown_and_a_detail_nobody_reported_stays_none() -> None:
    assert Usage(None, 5) + Usage(3, 4) == Usage(None, 9)
    assert Usage(3, None) + Usage(None, None) == Usage(None, None)
    assert (Usage(1, 1) + Usage(1, 1)).cached_tokens is None


def test_usage_is_one_frozen_type_shared_with_the_model_layer() -> None:
    assert ResponseUsage is Usage
    with pytest.raises(dataclasses.FrozenInstanceError):
        Usage(1, 2).prompt_tokens = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Usage(1, 2) + 3  # type: ignore[operator]


def test_call_results_and_outcomes_carry_their_tokens_as_usage() -> None:
    r = CallResult(output="x", prompt_tokens=9, completion_tokens=2, cached_tokens=1, reasoning_tokens=None)
    assert r.usage == Usage(9, 2, cached_tokens=1)
    o = CaseOutcome(prompt="p", model="m", case_id="c", prompt_tokens=None, completion_tokens=3, cache_write_tokens=2)
    assert o.usage == Usage(None, 3, cache_write_tokens=2)


def test_usage_is_the_one_token_field_and_the_counts_read_through_it() -> None:
    names = {f.name for f in dataclasses.fields(CallResult)} | {f.name for f in dataclasses.fields(CaseOutcome)}
    assert "usage" in names and not names & set(TOKEN_FIELDS)
    r = CallResult(output="x", usage=Usage(9, 2, reasoning_tokens=1))
    assert (r.prompt_tokens, r.completion_tokens, r.reasoning_tokens, r.cached_tokens) == (9, 2, 1, None)
    with pytest.raises(AttributeError):
        r.prompt_tokens = 3  # type: ignore[misc]
    assert dataclasses.replace(r, cached=True).usage == r.usage
    assert CallResult(output="x").usage == Usage(0, 0) and CaseOutcome("p", "m", "c").usage == Usage(None, None)
    with pytest.raises(TypeError, match="not both"):
        CallResult(output="x", usage=Usage(1, 1), prompt_tokens=2)  # type: ignore[call-arg]


def test_spend_sums_usage_and_keeps_its_json_keys() -> None:
    outcomes = [
        CaseOutcome("p", "m", "a", usage=Usage(10, 5, cached_tokens=4)),
        CaseOutcome("p", "m", "b", usage=Usage(None, 3, reasoning_tokens=2)),  # unknown prompt count adds 0
        CaseOutcome("p", "m", "c", usage=Usage(100, 100), cached=True),  # a cached result spent no tokens
    ]
    spend = spend_of(outcomes)
    assert spend.usage == Usage(10, 8, cached_tokens=4, reasoning_tokens=2, cache_write_tokens=0)
    assert (spend.prompt_tokens, spend.completion_tokens, spend.cache_write_tokens) == (10, 8, 0)
    data = spend.to_dict()
    assert list(data) == [
        "model_usd", "judge_usd", "model_saved_usd", "judge_saved_usd", "calls", "cached", "prompt_tokens",
        "completion_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens", "judge_calls",
        "judge_prompt_tokens", "judge_completion_tokens", "spent_usd", "saved_usd",
    ]  # fmt: skip
    assert Spend.from_dict(data) == spend
    assert spend.plus(spend).usage == Usage(20, 16, cached_tokens=8, reasoning_tokens=4, cache_write_tokens=0)


def test_usage_of_a_row_keeps_missing_and_null_counts_unknown() -> None:
    row = {"prompt_tokens": 9, "completion_tokens": None, "cached_tokens": 4, "other": 1}
    assert Usage.of(row) == Usage(9, None, cached_tokens=4, reasoning_tokens=None, cache_write_tokens=None)
