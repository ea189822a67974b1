"""llmctl.store._monitor: the reads of `llmctl monitor` and the viewer's /monitor."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from llmctl.store import (
    TRACE_FIELDS,
    TRACE_SCHEMA,
    Store,
    TraceBatch,
    import_traces,
    monitor_daily,
    monitor_daily_sample,
    monitor_groups,
    monitor_sample,
)

END = datetime(2026, 11, 30)


def _trace(i: int, days_ago: float, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in TRACE_FIELDS}
    row.update(
        id=f"t{i}",
        ts=END - timedelta(days=days_ago),
        source="openai",
        prompt="summarize",
        version="v1",
        model="m1",
        prompt_tokens=80,
        completion_tokens=20,
        cost_usd=0.001,
        latency_ms=100.0 + i,
    )
    row.update(over)
    return row


def _load(store: Store, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(rows, schema=TRACE_SCHEMA)
    import_traces(store, [TraceBatch(table, [])])


def _traffic() -> list[dict[str, Any]]:
    rows = [_trace(i, 1 + i % 5) for i in range(10)]  # window: the last 7 days
    rows += [_trace(10 + i, 10 + i % 5, latency_ms=50.0) for i in range(6)]  # reference
    rows += [_trace(20, 2, error="429", cost_usd=None, latency_ms=9000.0)]
    rows += [_trace(21, 3, prompt="triage", model="m2", version="v2")]
    rows += [_trace(22, 40)]  # before both windows
    return rows


def test_groups_split_window_and_reference_per_prompt_and_model(store: Store) -> None:
    _load(store, _traffic())
    w_start, r_start = END - timedelta(days=7), END - timedelta(days=35)
    rows = monitor_groups(store, r_start, w_start, END)
    by = {(r["prompt"], r["model"], r["in_window"]): r for r in rows}
    assert set(by) == {("summarize", "m1", True), ("summarize", "m1", False), ("triage", "m2", True)}
    win = by[("summarize", "m1", True)]
    assert (win["calls"], win["errors"], win["priced"], win["tokens"]) == (11, 1, 10, 1000)
    assert sorted(win["latencies"]) == [100.0 + i for i in range(10)]  # the failed call's latency left out
    assert win["per_1k"] == pytest.approx([0.01] * 10)  # $0.001 for 100 tokens
    ref = by[("summarize", "m1", False)]
    assert ref["calls"] == 6 and ref["latencies"] == [50.0] * 6
    assert [r["prompt"] for r in monitor_groups(store, r_start, w_start, END, prompt="triage")] == ["triage"]


def test_daily_rows_by_day_and_version(store: Store) -> None:
    _load(store, _traffic())
    rows = monitor_daily(store, END - timedelta(days=35), END, "summarize")
    assert [r["day"] for r in rows] == sorted(r["day"] for r in rows)
    day2 = next(r for r in rows if r["day"] == datetime(2026, 11, 28))
    assert day2["calls"] == 3 and abs(day2["error_rate"] - 1 / 3) < 1e-9  # t1, t6 and the failed t20
    assert sum(r["calls"] for r in rows) == 17


def test_samples_are_seeded_successful_and_bounded(store: Store) -> None:
    _load(store, _traffic())
    lo = END - timedelta(days=7)
    first = monitor_sample(store, "summarize", "m1", lo, END, "7", 4)
    assert len(first) == 4 and all(r["error"] is None and r["ts"] > lo for r in first)
    assert [r["id"] for r in monitor_sample(store, "summarize", "m1", lo, END, "7", 4)] == [r["id"] for r in first]
    everything = monitor_sample(store, "summarize", "m1", lo, END, "7", 100)
    assert len(everything) == 10  # the failed call is never sampled
    daily = monitor_daily_sample(store, "7", END - timedelta(days=35), END, None, 1)
    days = [(r["prompt"], r["day"]) for r in daily]
    assert len(days) == len(set(days))  # at most one per prompt x model and day
    assert ("triage", "2026-11-27") in days and all(r["error"] is None for r in daily)
