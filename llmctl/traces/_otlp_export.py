"""`llmctl runs export RUN --format otlp`: a run as OTLP/JSON spans, for Langfuse, Phoenix, MLflow and the like.

One ExportTraceServiceRequest a line (as the Collector's file exporter writes), 512 spans each.
The run is one trace (trace id: sha256 of the run id); each result is one span (span id: sha256 of
its result key) named `chat MODEL`, with GenAI semantic-convention attributes
(`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`/`output_tokens`,
`gen_ai.input.messages`/`gen_ai.output.messages`), llmctl's own (`llmctl.prompt`,
`llmctl.prompt.version`, `llmctl.case_id`, `llmctl.run_id`, `llmctl.cost_usd`, `llmctl.passed`),
an error status for a failed call, and one `gen_ai.evaluation.result` event per score
(`gen_ai.evaluation.name`, `gen_ai.evaluation.score.value`, `gen_ai.evaluation.score.label`
pass|fail, `gen_ai.evaluation.explanation`). `llmctl traces import` reads such a file back.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import llmctl

if TYPE_CHECKING:
    from llmctl.store import RunRecord, Store

SPANS_PER_LINE = 512


def _attr(key: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _attrs(pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in (_attr(k, v) for k, v in pairs) if a is not None]


def _ns(ts: Any) -> int:
    if isinstance(ts, datetime):
        return int(ts.replace(tzinfo=timezone.utc).timestamp() * 1e9)
    return 0


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _span(r: dict[str, Any], run: RunRecord, trace_id: str) -> dict[str, Any]:
    end = _ns(r.get("created_at")) or _ns(run.started_at)
    latency = float(r.get("latency_ms") or 0.0)
    start = end - int(latency * 1e6)
    messages = _loads(r.get("input"))
    if isinstance(messages, dict):
        messages = messages.get("messages", messages)
    out_msg: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": r.get("output") or ""}]}
    for call in _loads(r.get("tool_calls")) or []:
        if isinstance(call, dict):
            out_msg["parts"].append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": call.get("name"),
                    "arguments": call.get("arguments"),
                }
            )
    if r.get("finish_reason"):
        out_msg["finish_reason"] = r["finish_reason"]
    events = []
    for s in r.get("scores") or []:
        if not s or s.get("evaluator") is None:
            continue
        label = None if s.get("passed") is None else ("pass" if s["passed"] else "fail")
        events.append(
            {
                "timeUnixNano": str(end),
                "name": "gen_ai.evaluation.result",
                "attributes": _attrs(
                    [
                        ("gen_ai.evaluation.name", s.get("evaluator")),
                        ("gen_ai.evaluation.score.value", None if s.get("score") is None else float(s["score"])),
                        ("gen_ai.evaluation.score.label", label),
                        ("gen_ai.evaluation.explanation", s.get("error") or s.get("reason")),
                    ]
                ),
            }
        )
    span_id = hashlib.sha256(str(r["result_key"]).encode()).hexdigest()[:16]
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": f"chat {r.get('model')}",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": _attrs(
            [
                ("gen_ai.operation.name", "chat"),
                ("gen_ai.request.model", r.get("model")),
                ("gen_ai.usage.input_tokens", r.get("prompt_tokens")),
                ("gen_ai.usage.output_tokens", r.get("completion_tokens")),
                ("gen_ai.input.messages", json.dumps(messages, ensure_ascii=False, default=str) if messages else None),
                ("gen_ai.output.messages", json.dumps([out_msg], ensure_ascii=False, default=str)),
                ("llmctl.prompt", r.get("prompt")),
                ("llmctl.prompt.version", r.get("version_hash")),
                ("llmctl.case_id", r.get("case_id")),
                ("llmctl.repeat_index", r.get("repeat_index")),
                ("llmctl.run_id", run.id),
                ("llmctl.evalset", run.evalset),
                ("llmctl.cost_usd", None if r.get("cost_usd") is None else float(r["cost_usd"])),
                ("llmctl.cached", r.get("cached")),
                ("llmctl.passed", r.get("passed")),
            ]
        ),
        "events": events,
        "status": {"code": 2, "message": str(r["error"])} if r.get("error") else {},
    }


def export_run(store: Store, run_id: str, dest: Path) -> Path:
    """Write run `run_id` to `dest` as OTLP/JSON; the file appears whole or not at all."""
    run = store.get_run(run_id)
    rows = store.results_table(run.id).to_pylist()
    trace_id = hashlib.sha256(str(run.id).encode()).hexdigest()[:32]
    resource = {
        "attributes": _attrs([("service.name", "llmctl"), ("service.version", llmctl.__version__)]),
    }
    scope = {"name": "llmctl", "version": llmctl.__version__}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for i in range(0, max(len(rows), 1), SPANS_PER_LINE):
                spans = [_span(r, run, trace_id) for r in rows[i : i + SPANS_PER_LINE]]
                if not spans:
                    break
                doc = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": spans}]}]}
                fh.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
