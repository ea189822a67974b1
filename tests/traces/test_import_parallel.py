"""The parallel reader (files of `PARALLEL_MIN_BYTES` or more are parsed by worker processes, in
chunks of whole lines) gives what the serial reader gives: the same rows in file order, and the
same file:line for a bad line in a later chunk."""

from __future__ import annotations

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
