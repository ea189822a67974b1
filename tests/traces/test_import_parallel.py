"""The parallel reader (files of `PARALLEL_MIN_BYTES` or more are parsed by worker processes, in
chunks of whole lines) gives what the serial reader gives: the same rows in file order, and the
same file:line for a bad line in a later chunk."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from llmctl.traces import _import
from llmctl.traces._import import TraceFormatError, read_file

COLUMNS = ("id", "ts", "prompt", "model", "output", "latency_ms", "prompt_tokens", "cost_usd")


def _exchange(i: int) -> dict[str, Any]:
    return {
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {i}"}]},
        "response": {
            "id": f"chatcmpl-{i}",
            "model": "gpt-4o-mini",
            "choices": [{"message": {"role": "assistant", "content": f"answer {i}"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3 + i % 5, "completion_tokens": 1},
        },
        "latency_ms": 100 + i,
        "timestamp": f"2026-11-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "metadata": {"llmctl_prompt": f"p{i % 3}"},
    }


def _rows(batches: Any) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for batch in batches:
        table = batch.table
        out.extend(zip(*(table.column(c).to_pylist() for c in COLUMNS), strict=True))
    return out


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_import, "CHUNK_BYTES", 8192)  # ~30 chunks for the file below


def test_parallel_reader_gives_the_serial_readers_rows_in_file_order(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "exchanges.jsonl"
    path.write_text("".join(json.dumps(_exchange(i)) + "\n" for i in range(1200)), encoding="utf-8")
    serial = _rows(read_file(path, workers=1, batch_rows=500))
    parallel = _rows(read_file(path, workers=2, batch_rows=500))
    assert len(serial) == 1200
    assert parallel == serial


def test_a_bad_line_in_a_later_chunk_is_reported_at_its_file_line(tmp_path: Path, small_chunks: None) -> None:
    lines = [json.dumps(_exchange(i)) for i in range(1200)]
    lines[1033] = '{"request": {"model": '  # truncated JSON, many chunks into the file
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TraceFormatError) as serial:
        list(read_file(path, workers=1))
    with pytest.raises(TraceFormatError) as parallel:
        list(read_file(path, workers=2))
    assert serial.value.line == parallel.value.line == 1034


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _edge_spans(i: int) -> list[dict[str, Any]]:
    """Hand-made OTLP spans: streamed chunks, an error with an exception event, tool calls, missing
    tokens, non-ASCII text, a key in the output, an app span naming the prompt, base64 ids."""
    trace = f"{i:032x}"
    base = {"traceId": trace, "startTimeUnixNano": str(1_780_000_000_000_000_000 + i), "endTimeUnixNano": "0"}
    return [
        {**base, "spanId": f"{2 * i + 1:016x}", "name": "app", "attributes": [_kv("llmctl.prompt", f"p{i % 3}")]},
        {
            **base,
            "spanId": f"{2 * i + 2:016x}",
            "parentSpanId": f"{2 * i + 1:016x}",
            "name": "chat",
            "attributes": [
                _kv("gen_ai.system", "openai"),
                _kv("gen_ai.request.model", "gpt-4o-mini"),
                _kv("gen_ai.usage.input_tokens", 10 + i),
                _kv("gen_ai.prompt.0.content", f"héllo ✓ {i}"),
                _kv("gen_ai.completion.0.tool_calls.0.name", "lookup"),
                _kv("gen_ai.completion.0.tool_calls.0.arguments", '{"q": 1}'),
                _kv("custom.key", f"sk-{'a' * 40}"),
            ],
            "events": [
                {"name": "llm.content.completion.chunk", "attributes": [_kv("content", "Hel")]},
                {"name": "llm.content.completion.chunk", "attributes": [_kv("content", "lo")]},
                {"name": "exception", "attributes": [_kv("exception.message", "boom")]},
            ],
            "status": {"code": 2},
        },
        {
            "traceId": base64.b64encode(bytes.fromhex(trace)).decode(),
            "spanId": base64.b64encode(bytes.fromhex(f"{2 * i + 3:016x}")).decode(),
            "name": "chat",
            "attributes": [_kv("llm.request.type", "chat"), _kv("gen_ai.completion.0.content", "ünïcode")],
        },
    ]


def test_parallel_reader_gives_the_serial_readers_otlp_rows(tmp_path: Path, small_chunks: None) -> None:
    """Every column, on a real SDK file's request and the hand-made edge cases, each line twice
    (the copies in other chunks and batches)."""
    from tests.traces.otel_files import write_otel_file
    from tests.traces.test_import import _app_and_llm_spans

    sdk = write_otel_file(tmp_path / "sdk.jsonl", _app_and_llm_spans).read_text(encoding="utf-8").strip()
    lines = [sdk]
    for i in range(300):
        lines.append(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": _edge_spans(i)}]}]}))
    path = tmp_path / "edge.otlp.jsonl"
    path.write_text("\n".join(lines + lines[::-1]) + "\n", encoding="utf-8")
    names = [f for f in _import._Rows("x", None).fields if f != "imported_at"]

    def everything(batches: Any) -> tuple[list[tuple[Any, ...]], list[Any]]:
        """The first copy of each span, in file order, and the attributions: what the store keeps
        (batches end at different rows: the parallel reader's at chunk ends)."""
        rows: dict[Any, tuple[Any, ...]] = {}
        attributions: set[Any] = set()
        for batch in batches:
            for row in zip(*(batch.table.column(c).to_pylist() for c in names), strict=True):
                rows.setdefault(row[0], row)
            attributions.update(batch.attributions)
        return list(rows.values()), sorted(attributions, key=str)

    serial = everything(read_file(path, workers=1, batch_rows=400))
    parallel = everything(read_file(path, workers=2, batch_rows=400))
    assert len(serial[0]) == 603  # 2 LLM spans a hand-made line, 3 in the SDK's
    assert parallel == serial
    assert "sk-aaaa" not in str(parallel)  # scrubbed in the workers too
