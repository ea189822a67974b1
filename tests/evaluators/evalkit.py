"""Helpers for the evaluator tests: build evaluators, make inputs, fake judge models."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmctl.evaluators import Evaluator, build_evaluator
from llmctl.types import CallResult, EvalInput, EvaluatorSpec, ScoreResult

FIXTURES = Path(__file__).parent / "fixtures"


def make(type_: str, **config: Any) -> Evaluator:
    """Build an evaluator from keyword options (`not_` stands for `not`)."""
    if "not_" in config:
        config["not"] = config.pop("not_")
    return build_evaluator(EvaluatorSpec(type=type_, config=config, file="evalsets/t.yaml", line=7))


def inp(output: str, expected: Any = None, **kw: Any) -> EvalInput:
    return EvalInput(output=output, expected=expected, **kw)


def run(ev: Evaluator, i: EvalInput, call_model: Any = None) -> ScoreResult:
    if ev.is_async:
        return asyncio.run(ev.ascore(i, call_model))
    return ev.score(i)


class FakeModel:
    """An async `call_model` that records its calls and answers from `reply(messages, n)`."""

    def __init__(self, reply: Callable[[list[dict[str, str]], int], str | CallResult]) -> None:
        self.reply = reply
        self.calls: list[tuple[str, list[dict[str, str]], dict[str, Any]]] = []

    async def __call__(self, model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> CallResult:
        self.calls.append((model, messages, params))
        out = self.reply(messages, len(self.calls) - 1)
        return out if isinstance(out, CallResult) else CallResult(output=out)


def verdict(score: float, passed: bool, reason: str = "ok") -> str:
    return json.dumps({"score": score, "pass": passed, "reason": reason})
