"""The monitor's reads of the `traces` table (llmctl/store/_monitor.py), on rows written directly."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from llmctl.store import TRACE_FIELDS, TRACE_SCHEMA, Store, TraceBatch, import_traces
from llmctl.store._monitor import daily_by_version, daily_sample, seeded_sample, window_groups

T0 = datetime(2026, 10, 1)
SIDES = {
    "reference_start": T0 - timedelta(days=1),
    "window_start": T0 + timedelta(days=1),
    "end": T0 + timedelta(days=3),
}


def _row(i: int, day: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TRACE_FIELDS)
    row.update(
        id=f"t{i}",
        ts=T0 + timedelta(days=day, minutes=i),
        source="test",
        prompt="summarize",
        version="v1",
        model="m",
        prompt_tokens=100,
        completion_tokens=100,
        cost_usd=0.002,
        cost_estimated=False,
        latency_ms=100.0 + i,
        imported_at=T0,
    )
    row.update(over)
    return row


@pytest.fixture
def store(tmp_path: Path) -> Store:
    rows = [_row(i, 0) for i in range(4)]  # reference day
    rows += [_row(10 + i, 2, version="v2") for i in range(3)]  # window day
    rows += [_row(20, 2, error="HTTP 500", latency_ms=None, cost_usd=None, version="v2")]
    rows += [_row(30, 2, prompt="other", model="m2")]
    s = Store(tmp_path / "s.duckdb")
    import_traces(s, [TraceBatch(pa.Table.from_pylist(rows, schema=TRACE_SCHEMA), [])])
    return s


def test_window_groups_split_each_prompt_and_model_into_window_and_reference(store: Store) -> None:
    rows = window_groups(store, **SIDES, prompt=None)
    by = {(r["prompt"], r["model"], r["in_window"]): r for r in rows}
    assert set(by) == {("summarize", "m", False), ("summarize", "m", True), ("other", "m2", True)}
    ref, win = by[("summarize", "m", False)], by[("summarize", "m", True)]
    assert (ref["calls"], ref["errors"], win["calls"], win["errors"]) == (4, 0, 4, 1)
    assert sorted(win["latencies"]) == [110.0, 111.0, 112.0]  # the error's call is not a latency
    assert win["priced"] == 3 and win["tokens"] == 600 and win["cost"] == pytest.approx(0.006)
    assert win["per_1k"] == pytest.approx([0.01, 0.01, 0.01])
    only = window_groups(store, **SIDES, prompt="other")
    assert [(r["prompt"], r["calls"]) for r in only] == [("other", 1)]


def test_daily_by_version_orders_days_and_splits_versions(store: Store) -> None:
    rows = daily_by_version(store, start=T0 - timedelta(days=1), end=T0 + timedelta(days=3), prompt="summarize")
    assert [(r["day"].date().isoformat(), r["version"], r["calls"]) for r in rows] == [
        ("2026-10-01", "v1", 4),
        ("2026-10-03", "v2", 4),
    ]
    assert rows[1]["error_rate"] == 0.25 and rows[0]["p50"] == pytest.approx(101.5)


def test_samples_are_seeded_successful_and_bounded(store: Store) -> None:
    args = {"prompt": "summarize", "model": "m", "start": T0 - timedelta(days=1), "end": T0 + timedelta(days=3)}
    one = seeded_sample(store, seed="7", limit=5, **args)
    assert len(one) == 5 and all(r["error"] is None for r in one)  # 7 successful: 5 of them
    assert [r["id"] for r in seeded_sample(store, seed="7", limit=5, **args)] == [r["id"] for r in one]
    assert {r["id"] for r in seeded_sample(store, seed="8", limit=7, **args)} == {r["id"] for r in one} | {
        r["id"] for r in seeded_sample(store, seed="7", limit=7, **args)
    }
    daily = daily_sample(store, seed="7", start=args["start"], end=args["end"], prompt=None, per_day=2)
    per = sorted((r["prompt"], r["day"]) for r in daily)
    assert per == [("other", "2026-10-03"), ("summarize", "2026-10-01"), ("summarize", "2026-10-01"),
                   ("summarize", "2026-10-03"), ("summarize", "2026-10-03")]  # fmt: skip
