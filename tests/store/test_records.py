"""`RunRecord`: the typed run every `Store` method that returns a run hands back, and its JSON form."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import pytest
from store_helpers import fill, new_run

from llmctl.fmt import json_default
from llmctl.store import RunRecord, Store
from llmctl.store._records import RUN_FIELDS
from llmctl.summary import RunSummary, summarize


def _as_stored(store: Store, run_id: str) -> dict[str, object]:
    """The run as the store returned it before it had records: its `runs` row (JSON columns parsed)
    and the counts over its results, read here with SQL of its own."""
    cols = ", ".join(RUN_FIELDS[:13])
    [row] = store.query(f"SELECT {cols} FROM runs WHERE id = ?", [run_id])
    run = dict(zip(RUN_FIELDS[:13], row, strict=True))
    run["config"] = json.loads(run["config"]) if run["config"] else {}
    run["summary"] = json.loads(run["summary"]) if run["summary"] else None
    [(n, errors, passed, unscored, cost, prompts, models)] = store.query(
        "SELECT count(*), count(error), coalesce(count_if(passed AND error IS NULL), 0),"
        " coalesce(count_if(passed IS NULL AND error IS NULL), 0),"
        " coalesce(sum(cost_usd), 0), coalesce(list(DISTINCT prompt ORDER BY prompt), []),"
        " coalesce(list(DISTINCT model ORDER BY model), []) FROM results WHERE run_id = ?",
        [run_id],
    )
    run.update(n_results=n, n_errors=errors, n_passed=passed, n_unscored=unscored, cost_usd=cost)
    run.update(prompts=prompts, models=models)
    graded = n - errors - unscored
    run["pass_rate"] = passed / graded if graded else None
    return run


def test_every_run_method_returns_a_typed_record(store: Store) -> None:
    rid = new_run(store, config={"role": "candidate", "models": ["echo"], "prompts": {"summarize": "sha256:v1"}})
    fill(store, rid, 6)
    store.finish_run(rid, "completed", summarize(store.outcomes(rid)).to_dict())
    got = [
        store.get_run(rid),
        store.get_run("latest"),
        *store.list_runs(),
        store.latest_run_for("summarize", "sha256:v1"),
        *store.runs_for_version("summarize", "sha256:v1"),
    ]
    assert all(isinstance(r, RunRecord) for r in got)
    run = got[0]
    assert isinstance(run.started_at, datetime) and isinstance(run.finished_at, datetime)
    assert run.config.get("models") == ["echo"] and run.role == "candidate"
    assert run.prompts == ("summarize",) and run.models == ("echo",)
    assert (run.n_results, run.n_errors, run.n_passed) == (6, 0, 4)
    assert isinstance(run.summary, RunSummary) and run.summary.groups[0].n == 6
    assert run.gate_passed is None  # no gate in this summary
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "failed"  # type: ignore[misc]
    resumed = store.resume_run(rid)
    assert isinstance(resumed, RunRecord) and resumed.status == "running" and resumed.finished_at is None


def test_to_dict_is_the_json_the_store_returned_before(store: Store) -> None:
    """`runs show --json`, `runs list --json` and the exports print `to_dict()`: the same keys in the
    same order and the same values as the dict the store returned before it had records."""
    rid = new_run(store, baseline_run_id="rbase", shard="1/2", config={"models": ["echo"], "limit": None})
    fill(store, rid, 5)
    fill(store, rid, 2, start=5, error="boom")
    fill(store, rid, 1, start=7, passed=None)
    store.finish_run(rid, "completed", {"groups": [], "errors": 2, "gate_passed": False}, gate_snapshot=3)
    empty = new_run(store)  # no results: counts 0, pass rate None
    for run_id in (rid, empty):
        data = store.get_run(run_id).to_dict()
        before = _as_stored(store, run_id)
        assert list(data) == list(RUN_FIELDS) == list(before)
        assert json.dumps(data, default=json_default) == json.dumps(before, default=json_default)
    run = store.get_run(rid)
    assert run.gate_passed is False and run.gate_snapshot == 3
    assert run.n_errors == 2
    assert run.pass_rate == run.n_passed / (run.n_results - run.n_errors - run.n_unscored)


def test_export_json_carries_the_run_as_to_dict(store: Store, tmp_path: Path) -> None:
    rid = new_run(store)
    fill(store, rid, 3)
    store.finish_run(rid, "completed", {"groups": [], "errors": 0})
    doc = json.loads(store.export(rid, "json", tmp_path / "run.json").read_text())
    assert doc["run"] == json.loads(json.dumps(store.get_run(rid).to_dict(), default=json_default))
    assert list(doc["run"]) == list(RUN_FIELDS)
