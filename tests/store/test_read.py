from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from store_helpers import fill, new_run, result_row, score_rows

from llmctl.errors import InputError
from llmctl.store import ScoreRow, Store
from llmctl.types import CaseOutcome


def test_outcomes_join_results_and_scores(store: Store) -> None:
    rid = new_run(store)
    with store.writer(rid) as w:
        w.add(result_row(1, model="b"), score_rows(1))
        w.add(result_row(3), score_rows(3))  # judge fails
        w.add(result_row(2, output=None, error="HTTP 500", passed=False), [])
        w.add(
            result_row(4, passed=None),
            [
                ScoreRow("contains", score=1, passed=True),
                ScoreRow("contains", score=0, passed=False, reason="missing y"),
                ScoreRow("python", score=0, passed=True, error="ImportError: mod"),
            ],
        )
    out = store.outcomes(rid[:-1])
    assert [(o.model, o.case_id) for o in out] == [
        ("b", "case-1"),
        ("echo", "case-2"),
        ("echo", "case-3"),
        ("echo", "case-4"),
    ]
    first = out[0]
    assert isinstance(first, CaseOutcome)
    assert first.passed and first.error is None
    assert first.scores == {"contains": 1.0, "judge": 0.9}
    assert first.evaluator_passed == {"contains": True, "judge": True}
    assert first.reasons == {"contains": "found", "judge": "judged"}
    assert (first.cost_usd, first.latency_ms, first.output, first.version_hash) == (
        0.001,
        101.0,
        "summary 1",
        "sha256:v1",
    )
    errored = out[1]
    assert not errored.passed and errored.error == "HTTP 500" and errored.scores == {}
    assert not out[2].passed and out[2].evaluator_passed["judge"] is False
    # passed left to the store: computed; same-named evaluators numbered; an evaluator error never passes
    fourth = out[3]
    assert fourth.scores == {"contains": 1.0, "contains#2": 0.0, "python": 0.0}
    assert fourth.evaluator_passed == {"contains": True, "contains#2": False, "python": False}
    assert fourth.reasons["python"] == "ImportError: mod"
    assert fourth.passed is False


def test_finished_keys(store: Store) -> None:
    rid = new_run(store)
    fill(store, rid, 3)
    with store.writer(rid) as w:
        w.add(result_row(7, error="boom", output=None), [])
    assert len(store.finished_keys(rid)) == 3
    assert store.finished_keys("rother") == set()


def test_cache_get_and_put(store: Store) -> None:
    assert store.cache_get_many([]) == {}
    store.cache_put_many(
        [
            {"key": f"k{i}", "model": "echo", "output": f"out {i}", "completion_tokens": i, "ttft_ms": 1.5}
            for i in range(2000)
        ]
    )
    store.cache_put_many([{"key": "k1", "model": "echo", "output": "a later copy is ignored"}])
    got = store.cache_get_many(["k1", "k1999", "missing", "k1"])
    assert set(got) == {"k1", "k1999"}
    assert got["k1"]["output"] == "out 1"
    assert got["k1999"]["completion_tokens"] == 1999 and got["k1999"]["ttft_ms"] == 1.5
    assert got["k1"]["created_at"] is not None
    assert len(store.cache_get_many(f"k{i}" for i in range(0, 2000, 2))) == 1000


def test_prompt_versions(store: Store) -> None:
    store.put_prompt_versions(
        [{"version_hash": "sha256:a", "prompt": "summarize", "path": "prompts/summarize.yaml",
          "content": {"messages": [{"role": "user", "content": "{{ ticket }}"}]}, "git_commit": "abc"}]
    )  # fmt: skip
    store.put_prompt_versions([{"version_hash": "sha256:a", "prompt": "summarize", "git_commit": "later"}])
    got = store.get_prompt_version("sha256:a")
    assert got is not None
    assert got["content"] == {"messages": [{"role": "user", "content": "{{ ticket }}"}]}
    assert got["git_commit"] == "abc" and got["first_seen"] is not None
    assert store.get_prompt_version("sha256:b") is None
    with pytest.raises(ValueError):
        store.put_prompt_versions([{"prompt": "x"}])


@pytest.fixture
def exported_run(store: Store) -> str:
    rid = new_run(store)
    fill(store, rid, 5)
    with store.writer(rid) as w:
        w.add(result_row(9, output='tricky, "quoted"\nmultiline', error=None), [])
    store.finish_run(rid, "completed", {"pass_rate": 0.6})
    return rid


def test_export_jsonl(store: Store, exported_run: str, tmp_path: Path) -> None:
    dest = store.export(exported_run, "jsonl", tmp_path / "out" / "run.jsonl")
    rows = [json.loads(line) for line in dest.read_text().splitlines()]
    assert len(rows) == 6
    assert rows[0]["case_id"] == "case-0"
    assert rows[0]["input"] == {"messages": [{"content": "ticket 0", "role": "user"}]}
    assert [s["evaluator"] for s in rows[0]["scores"]] == ["contains", "judge"]
    assert rows[0]["scores"][1]["config"] == {"threshold": 0.7, "type": "judge"}
    assert rows[-1]["output"] == 'tricky, "quoted"\nmultiline' and rows[-1]["scores"] is None


def test_export_json(store: Store, exported_run: str, tmp_path: Path) -> None:
    doc = json.loads(store.export(exported_run[:-2], "json", tmp_path / "run.json").read_text())
    assert doc["run"]["id"] == exported_run and doc["run"]["summary"] == {"pass_rate": 0.6}
    assert len(doc["results"]) == 6
    assert doc["results"][1]["scores"][0] == {
        "evaluator": "contains", "score": 1.0, "passed": True, "reason": "found", "error": None,
        "config": {"type": "contains", "value": "x"},
    }  # fmt: skip


def test_export_csv(store: Store, exported_run: str, tmp_path: Path) -> None:
    with store.export(exported_run, "csv", tmp_path / "run.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6
    assert rows[0]["prompt"] == "summarize" and rows[0]["passed"] == "false"
    assert [s["evaluator"] for s in json.loads(rows[0]["scores"])] == ["contains", "judge"]
    assert rows[-1]["output"] == 'tricky, "quoted"\nmultiline'


def test_export_parquet(store: Store, exported_run: str, tmp_path: Path) -> None:
    table = pq.read_table(store.export(exported_run, "parquet", tmp_path / "run.parquet"))
    assert table.num_rows == 6
    rows = table.to_pylist()
    assert rows[2]["case_id"] == "case-2" and rows[2]["cost_usd"] == 0.001
    assert [s["evaluator"] for s in rows[2]["scores"]] == ["contains", "judge"]


def test_export_errors_leave_no_file(store: Store, exported_run: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown export format"):
        store.export(exported_run, "xlsx", tmp_path / "run.xlsx")
    with pytest.raises(InputError, match="no run matches"):
        store.export("rmissing", "csv", tmp_path / "run.csv")
    assert list(tmp_path.glob("run.*")) == [] and list(tmp_path.glob(".run*")) == []


ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_exported_times_are_utc_iso_with_z(store: Store, exported_run: str, tmp_path: Path, fmt: str) -> None:
    import re

    dest = store.export(exported_run, fmt, tmp_path / f"run.{fmt}")
    if fmt == "json":
        doc = json.loads(dest.read_text())
        rows, run = doc["results"], doc["run"]
        assert re.match(ISO_Z, run["started_at"]) and re.match(ISO_Z, run["finished_at"])
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in dest.read_text().splitlines()]
    else:
        with dest.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    assert rows and all(re.match(ISO_Z, r["created_at"]) for r in rows), rows[0]["created_at"]


def test_parquet_keeps_typed_times(store: Store, exported_run: str, tmp_path: Path) -> None:
    import datetime

    table = pq.read_table(store.export(exported_run, "parquet", tmp_path / "run.parquet"))
    assert isinstance(table.to_pylist()[0]["created_at"], datetime.datetime)


def test_outcomes_read_in_chunks_are_the_same(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outcomes built a few rows at a time (as a large run's are) equal the ones built at once."""
    import llmctl.store._store as store_module

    run_id = new_run(store)
    fill(store, run_id, 25)
    whole = store.outcomes(run_id)
    monkeypatch.setattr(store_module, "_FETCH_ROWS", 4)
    assert store.outcomes(run_id) == whole
    assert len(whole) == 25 and whole[0].scores and whole[0].reasons


def test_outcomes_of_a_large_run_hold_no_raw_rows(store: Store) -> None:
    """Issue 27: reading the outcomes of a large run must not keep every raw row beside every
    outcome, nor a copy of each repeated string (prompt, model, version, reasons, outputs):
    the gate and the summary read 100,000 of them at the end of a run."""
    import tracemalloc

    n = 20_000
    run_id = new_run(store)
    with store.writer(run_id, background=False, batch_rows=n + 1, flush_interval=1e9) as w:
        for i in range(n):
            w.add(result_row(i, output="pong", latency_ms=100.0), score_rows(i))
    tracemalloc.start()
    try:
        outcomes = store.outcomes(run_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(outcomes) == n
    # measured: ~2,200 bytes per result when every row was fetched at once, ~1,550 now
    assert peak / n < 1_850, f"{peak / n:.0f} bytes per result at peak"
