"""Reference-free evaluators (`monitor.evaluators`) applied to stored traces.

Each trace becomes an `EvalInput` (its output, input messages, tool calls, model, cost and latency;
no `expected`), scored by the project's evaluator registry; model-backed ones (a judge) call their
model through `ModelClient`, as in an eval.
"""

from __future__ import annotations

import json
from typing import Any

from llmctl.errors import InputError


def trace_input(row: dict[str, Any]) -> Any:
    from llmctl.types import EvalInput

    def loads(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return EvalInput(
        output=row.get("output") or "",
        vars=loads(row.get("vars")) or {},
        case_id=str(row.get("id") or ""),
        model=str(row.get("model") or ""),
        prompt=str(row.get("prompt") or ""),
        messages=loads(row.get("input_messages")) or [],
        cost_usd=float(row.get("cost_usd") or 0.0),
        latency_ms=float(row.get("latency_ms") or 0.0),
        prompt_tokens=row.get("prompt_tokens"),
        completion_tokens=row.get("completion_tokens"),
        tool_calls=loads(row.get("tool_calls")) or [],
        finish_reason=row.get("finish_reason"),
    )


def build(specs: list[Any], judge_model: str | None = None) -> list[Any]:
    from llmctl.evaluators import build_evaluator

    return [build_evaluator(spec, judge_model=judge_model) for spec in specs]


def score_traces(specs: list[Any], rows: list[dict[str, Any]], cfg: Any = None) -> list[dict[str, bool | None]]:
    """Per row: evaluator name -> passed (None: unscored or it could not judge)."""
    import asyncio

    evaluators = build(specs, getattr(cfg, "judge_model", None))
    inputs = [trace_input(r) for r in rows]
    if not any(ev.is_async for ev in evaluators):
        return [{ev.name: _verdict(ev.score(inp)) for ev in evaluators} for inp in inputs]

    async def run() -> list[dict[str, bool | None]]:
        from llmctl.config import load_config
        from llmctl.models import ModelClient, check_credentials, resolve_model

        config = cfg or load_config()
        specs_by_name: dict[str, Any] = {}
        async with ModelClient(concurrency=config.concurrency) as client:

            async def call_model(name: str, messages: Any, params: dict[str, Any]) -> Any:
                spec = specs_by_name.get(name)
                if spec is None:
                    spec = specs_by_name[name] = resolve_model(name, config)
                    check_credentials(spec)
                return await client.complete(spec, messages, params)

            async def one(inp: Any) -> dict[str, bool | None]:
                return {ev.name: _verdict(await ev.ascore(inp, call_model)) for ev in evaluators}

            return list(await asyncio.gather(*(one(inp) for inp in inputs)))

    return asyncio.run(run())


def _verdict(result: Any) -> bool | None:
    if result.unscored or result.error is not None:
        return None
    return bool(result.passed)


def check_monitor_evaluators(mon: Any) -> list[InputError]:
    """Problems in `monitor.evaluators` (unknown type, bad options), each located in llmctl.yaml."""
    from llmctl.evaluators import build_evaluator

    problems = []
    for spec in mon.evaluators:
        try:
            build_evaluator(spec, resolve=False)
        except InputError as exc:
            problems.append(exc)
    return problems


def score_local(specs: list[Any], rows: list[dict[str, Any]]) -> tuple[list[dict[str, bool | None]], list[str]]:
    """Per row: name -> passed, by the evaluators that call no model (safety, json_schema, tool
    checks...), and the names of those skipped (a judge calls a model: it costs money each time)."""
    evaluators = build(specs)
    local = [ev for ev in evaluators if not ev.is_async]
    skipped = [ev.name for ev in evaluators if ev.is_async]
    return [{ev.name: _verdict(ev.score(trace_input(r))) for ev in local} for r in rows], skipped
