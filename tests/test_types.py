"""`llmctl.types.Usage`: one token-count type for a call and for sums of calls."""

from __future__ import annotations

import dataclasses

import pytest

from llmctl.models._response import Usage as ResponseUsage
from llmctl.types import CallResult, CaseOutcome, Usage


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
