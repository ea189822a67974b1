"""Row builders shared by the store tests (imported as a top-level module by pytest's path setup)."""

from __future__ import annotations

import json
from typing import Any

from llmctl.store import ResultRow, ScoreRow, Store
from llmctl.types import Usage

CONFIGS = [json.dumps({"type": "contains", "value": "x"}), json.dumps({"type": "judge", "threshold": 0.7})]


_TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens")


def result_row(i: int, *, prompt: str = "summarize", model: str = "echo", **extra: Any) -> ResultRow:
    """A result of case `i`; `extra` sets any `ResultRow` field, or a token count by its column name."""
    tokens: dict[str, Any] = {"prompt_tokens": 10, "completion_tokens": 5}
    tokens.update({name: extra.pop(name) for name in _TOKENS if name in extra})
    fields: dict[str, Any] = {
        "prompt": prompt,
        "version_hash": "sha256:v1",
        "case_id": f"case-{i}",
        "model": model,
        "repeat_index": 0,
        "input": {"messages": [{"role": "user", "content": f"ticket {i}"}]},
        "output": f"summary {i}",
        "usage": Usage(**tokens),
        "cost_usd": 0.001,
        "latency_ms": 100.0 + i,
        "passed": i % 3 != 0,
    }
    fields.update(extra)
    return ResultRow(**fields)


def score_rows(i: int) -> list[ScoreRow]:
    return [
        ScoreRow(evaluator="contains", config=CONFIGS[0], score=1.0, passed=True, reason="found"),
        ScoreRow(
            evaluator="judge",
            config={"type": "judge", "threshold": 0.7},
            score=0.9 if i % 3 else 0.2,
            passed=i % 3 != 0,
            reason="judged",
        ),
    ]


def new_run(store: Store, **kw: Any) -> str:
    args: dict[str, Any] = {"evalset": "summarize", "config": {"k": 1}, "git_commit": "abc123", "git_branch": "main"}
    args.update(kw)
    return store.create_run(**args)


def fill(store: Store, run_id: str, n: int, start: int = 0, **extra: Any) -> None:
    with store.writer(run_id) as w:
        for i in range(start, start + n):
            w.add(result_row(i, **extra), score_rows(i))
