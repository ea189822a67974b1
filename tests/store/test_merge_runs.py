"""`llmctl runs merge RUN_A RUN_B ...`: shard runs already in one store merged by run id
(on a local DuckDB file here; the shared-store versions are in test_lake_merge.py)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from llmctl.store import Store
from tests.e2e.project import config, evalset, llmctl, prompt, write

CASES = 24


def _project(tmp_path: Path, gate: float = 0.5) -> Path:
    # the scripted model answers "no" to the questions ending in 7 (cases 7 and 17 fail: a
    # mixed pass rate, so the verdict means something)
    ev = evalset("qa", CASES, expected="question", models=["scripted-bot"])
    write(
        tmp_path,
        {
            "llmctl.yaml": config(
                None,
                models={
                    "scripted-bot": {"model": "scripted", "default": "question answered", "responses": {"/7$/": "no"}}
                },
                gate={"quality": {"min_pass_rate": gate}},
            ),
            "prompts/qa.yaml": prompt("Answer."),
            "evalsets/qa.yaml": ev,
        },
    )
    return tmp_path


def _run_id(out: str) -> str:
    found = re.findall(r"\br\d{8}-\d{6}-[0-9a-f]+\b", out)
    assert found, out
    return found[0]


def _shards(root: Path, capsys: pytest.CaptureFixture[str], n: int = 3) -> list[str]:
    ids = []
    for i in range(1, n + 1):
        code, out = llmctl(root, "eval", "--shard", f"{i}/{n}", capsys=capsys)
        assert code in (0, 1), out
        ids.append(_run_id(out))
    return ids


def _store(root: Path) -> Store:
    return Store(root / ".llmctl" / "llmctl.duckdb")


def test_shard_runs_in_one_store_merge_by_id_into_the_unsharded_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, gate=0.95)  # 2 of 24 cases fail: the gate fails, sharded or not
    whole_code, whole_out = llmctl(root, "eval", capsys=capsys)
    assert whole_code == 1, whole_out
    whole = _store(root).get_run(_run_id(whole_out))
    ids = _shards(root, capsys)
    code, out = llmctl(root, "runs", "merge", *ids, capsys=capsys)
    assert code == whole_code, out
    assert "merged 3 run(s) into run" in out
    store = _store(root)
    merged = store.get_run(_run_id(out.split("into run", 1)[1]))
    assert merged.n_results == whole.n_results == CASES
    assert merged.pass_rate == whole.pass_rate
    assert merged.status == "completed"
    assert [m["run_id"] for m in merged.config["merged_from"]] == ids
    assert merged.summary_json["verdict"]["passed"] is whole.summary_json["verdict"]["passed"] is False
    assert sorted(o.case_id for o in store.outcomes(merged.id)) == sorted(o.case_id for o in store.outcomes(whole.id))
    # the shard runs are left as they were
    assert sum(store.get_run(r).n_results for r in ids) == CASES
    # `runs show` and `report` take the merged run like any run
    code, shown = llmctl(root, "runs", "show", merged.id, capsys=capsys)
    assert code == 0 and "FAIL" in shown.upper(), shown
    code, _ = llmctl(root, "report", merged.id, "-o", str(tmp_path / "r.md"), capsys=capsys)
    assert code == 0


def test_merging_the_same_runs_twice_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path)
    ids = _shards(root, capsys)
    code, first = llmctl(root, "runs", "merge", *ids, capsys=capsys)
    assert code == 0, first
    runs_before = len(_store(root).list_runs(limit=100))
    code, second = llmctl(root, "runs", "merge", *reversed(ids), capsys=capsys)
    assert code == 0, second
    target = _run_id(first.split("into run", 1)[1])
    assert _run_id(second.split("into run", 1)[1]) == target
    store = _store(root)
    assert len(store.list_runs(limit=100)) == runs_before  # no second merged run
    assert store.get_run(target).n_results == CASES
    assert store.query("SELECT count(*) FROM scores WHERE run_id = ?", [target]) == [(CASES,)]
    # --into an existing run: adds nothing the run has
    code, into = llmctl(root, "runs", "merge", *ids, "--into", target, capsys=capsys)
    assert code == 0, into
    assert store.get_run(target).n_results == CASES
    assert store.query("SELECT count(*) FROM results WHERE run_id = ?", [target]) == [(CASES,)]


def test_bad_run_ids_exit_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path)
    ids = _shards(root, capsys)
    runs_before = len(_store(root).list_runs(limit=100))
    code, out = llmctl(root, "runs", "merge", ids[0], "r-no-such-run", capsys=capsys)
    assert code == 2, out
    assert "r-no-such-run" in out and "Traceback" not in out
    code, out = llmctl(root, "runs", "merge", ids[0], ids[0], ids[1], ids[2], capsys=capsys)
    assert code == 2 and "named twice" in out, out
    code, out = llmctl(root, "runs", "merge", ids[0], ids[1], capsys=capsys)  # shard 3/3 left out
    assert code == 2 and "3/3" in out, out
    code, out = llmctl(root, "runs", "merge", ids[0], str(tmp_path / "shard.duckdb"), capsys=capsys)
    assert code == 2 and "store file" in out, out
    # a run of another evalset
    write(root, {"prompts/other.yaml": prompt("Other."), "evalsets/other.yaml": evalset("other", 3, models=["echo"])})
    code, out = llmctl(root, "eval", "evalsets/other.yaml", capsys=capsys)
    other = _run_id(out)
    code, out = llmctl(root, "runs", "merge", ids[0], other, capsys=capsys)
    assert code == 2 and "differ in evalset" in out, out
    assert len(_store(root).list_runs(limit=100)) == runs_before + 1  # nothing merged
    # no store at all
    empty = tmp_path / "empty"
    _project(empty)
    code, out = llmctl(empty, "runs", "merge", "r1", "r2", capsys=capsys)
    assert code == 2 and "no store" in out, out


def test_an_unfinished_shard_run_is_refused_with_the_resume_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path)
    ids = _shards(root, capsys)
    with duckdb.connect(str(root / ".llmctl" / "llmctl.duckdb")) as con:  # as a killed shard leaves it
        con.execute("UPDATE runs SET status = 'running' WHERE id = ?", [ids[1]])
    code, out = llmctl(root, "runs", "merge", *ids, capsys=capsys)
    assert code == 2, out
    assert f"llmctl eval --resume {ids[1]}" in out
