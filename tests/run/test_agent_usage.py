"""The agent loop adds its calls' tokens up as one `Usage` (stored in the same five columns)."""

from __future__ import annotations

import asyncio
from typing import Any

from llmctl.run._pipeline import agent_loop
from llmctl.run._plan import Job
from llmctl.types import CallResult, Case, ModelSpec

CALL = [{"id": "c1", "name": "lookup", "arguments": {}, "raw_arguments": "{}"}]


class ScriptedClient:
    """Answers each `complete` with the next scripted result."""

    def __init__(self, results: list[CallResult]) -> None:
        self.results = list(results)

    async def complete(self, model: Any, messages: Any, params: Any, *, repeat_index: int = 0) -> CallResult:
        return self.results.pop(0)


def _loop(results: list[CallResult]) -> CallResult:
    case = Case(id="c", vars={}, tool_results={"lookup": {"ok": True}}, max_turns=5)
    job = Job(
        prompt=None,  # type: ignore[arg-type]  # the loop never reads it
        model=ModelSpec(name="m", litellm_id="scripted"),
        case=case,
        repeat_index=0,
        messages=[{"role": "user", "content": "q"}],
        params={},
        key="k",
        cache_key=None,
        evaluators=[],
    )
    return asyncio.run(agent_loop(ScriptedClient(results), job))


def test_tokens_and_details_are_summed_over_the_calls() -> None:
    got = _loop(
        [
            CallResult(
                output="", tool_calls=CALL, prompt_tokens=10, completion_tokens=2, cached_tokens=8, cost_usd=0.1
            ),
            CallResult(output="done", prompt_tokens=20, completion_tokens=5, reasoning_tokens=3, cost_usd=0.2),
        ]
    )
    assert (got.prompt_tokens, got.completion_tokens) == (30, 7)
    assert (got.cached_tokens, got.reasoning_tokens, got.cache_write_tokens) == (8, 3, None)
    assert got.cost_usd == 0.1 + 0.2 and got.output == "done" and len(got.turns or []) == 2


def test_one_call_without_a_count_makes_both_totals_unknown() -> None:
    got = _loop(
        [
            CallResult(output="", tool_calls=CALL, prompt_tokens=10, completion_tokens=None),
            CallResult(output="done", prompt_tokens=20, completion_tokens=5),
        ]
    )
    assert (got.prompt_tokens, got.completion_tokens) == (None, None)
