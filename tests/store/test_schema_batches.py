"""Migration _m009_batches: the tables of a run's provider batches."""

from __future__ import annotations

from pathlib import Path

from llmctl.store import ResultRow, Store
from llmctl.store import _batches as bstore


def test_batches_are_recorded_and_results_flagged(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    run_id = store.create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    row = {"run_id": run_id, "batch_id": "b1", "model": "m", "purpose": "cases", "requests": 2, "status": "validating"}
    bstore.add_batch(store, row, ["k1", "k2"])
    assert bstore.requests_of(store, run_id, "b1") == {"k1": "pending", "k2": "pending"}
    bstore.update_batch(store, run_id, "b1", status="completed", output_file_id="f9")
    bstore.set_request_states(store, run_id, "b1", {"k1": "done", "k2": "failed"})
    (got,) = bstore.batches_of(store, run_id)
    assert (got["status"], got["output_file_id"], got["collected"]) == ("completed", "f9", False)
    bstore.update_batch(store, run_id, "b1", collected=True)
    assert bstore.batches_of(store, run_id, uncollected=True) == []
    with store.writer(run_id) as writer:
        for key in ("k1", "k2"):
            writer.add(ResultRow(result_key=key, prompt="p", case_id=key, model="m", repeat_index=0))
    assert {o.case_id: o.batched for o in store.outcomes(run_id)} == {"k1": True, "k2": False}
