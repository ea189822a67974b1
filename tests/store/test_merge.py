from __future__ import annotations

import os
from pathlib import Path

import pytest
from store_helpers import new_run, result_row, score_rows

from llmctl.errors import InputError
from llmctl.store import Store


def shard(tmp_path: Path, name: str, cases: range, *, status: str = "completed", commit: str = "abc123") -> Path:
    s = Store(tmp_path / name / "llmctl.duckdb")
    rid = new_run(s, shard=name, git_commit=commit)
    with s.writer(rid) as w:
        for i in cases:
            w.add(result_row(i), score_rows(i))
    s.put_prompt_versions([{"version_hash": "sha256:v1", "prompt": "summarize", "content": {"x": name}}])
    s.finish_run(rid, status, {"shard": name})
    return s.path


def test_merge_two_shards_into_a_new_run(tmp_path: Path, store: Store) -> None:
    a = shard(tmp_path, "1of2", range(0, 10))
    b = shard(tmp_path, "2of2", range(10, 25), status="failed")
    rid = store.merge(None, [a, b])
    run = store.get_run(rid)
    assert run.n_results == 25 and run.status == "failed"
    assert run.evalset == "summarize" and run.git_commit == "abc123" and run.shard is None
    assert [m["shard"] for m in run.config["merged_from"]] == ["1of2", "2of2"]
    out = store.outcomes(rid)
    assert sorted(int(o.case_id.split("-")[1]) for o in out) == list(range(25))
    assert all(set(o.scores) == {"contains", "judge"} for o in out)
    assert store.get_prompt_version("sha256:v1") is not None
    # merging again into the same run adds nothing
    assert store.merge(rid, [a, b]) == rid
    assert store.get_run(rid).n_results == 25
    assert len(store.results_table(rid)) == 25


def test_merge_into_a_named_run_with_overlap(tmp_path: Path, store: Store) -> None:
    a = shard(tmp_path, "a", range(0, 5))
    b = shard(tmp_path, "b", range(3, 8))
    assert store.merge("rmerged", [a, b]) == "rmerged"
    run = store.get_run("rmerged")
    assert run.n_results == 8 and run.status == "completed"
    table = store.results_table("rmerged").to_pylist()
    assert all(len(r["scores"]) == 2 for r in table)


def test_merge_refuses_mismatched_or_missing_shards(tmp_path: Path, store: Store) -> None:
    a = shard(tmp_path, "a", range(0, 2))
    other = shard(tmp_path, "b", range(2, 4), commit="def456")
    with pytest.raises(InputError, match="differ in evalset or git commit"):
        store.merge(None, [a, other])
    with pytest.raises(InputError, match="does not exist"):
        store.merge(None, [a, tmp_path / "nope.duckdb"])
    with pytest.raises(InputError, match="nothing to merge"):
        store.merge(None, [])
    empty = Store(tmp_path / "empty.duckdb")
    empty.cache_put_many([{"key": "k"}])
    with pytest.raises(InputError, match="no runs"):
        store.merge(None, [empty.path])
    new_run(store)
    with pytest.raises(InputError, match="into itself"):
        store.merge(None, [store.path])
    assert len(store.list_runs()) == 1


def test_a_hard_link_to_the_store_cannot_be_merged_into_it(tmp_path: Path, store: Store) -> None:
    new_run(store)
    fill_path = tmp_path / "elsewhere" / "shard.duckdb"
    fill_path.parent.mkdir()
    os.link(store.path, fill_path)
    with pytest.raises(InputError, match="into itself"):
        store.merge(None, [fill_path])
    sym = tmp_path / "elsewhere" / "sym.duckdb"
    sym.symlink_to(store.path)
    with pytest.raises(InputError, match="into itself"):
        store.merge(None, [sym])
    assert len(store.list_runs()) == 1


def test_merge_with_baselines_and_verdict_is_one_transaction(tmp_path: Path, store: Store) -> None:
    a = shard(tmp_path, "a", range(0, 5))
    b = shard(tmp_path, "b", range(5, 9))
    baselines = [Store(p).list_runs()[0].id for p in (a, b)]  # the first run of each stands in for its baseline
    assert shard(tmp_path, "a", range(0, 5)) == a and shard(tmp_path, "b", range(5, 9)) == b
    latest = [Store(p).list_runs()[0].id for p in (a, b)]
    assert set(latest).isdisjoint(baselines)
    seen: list[tuple[int, int]] = []

    def failing_finish(candidate: list, baseline: list | None) -> tuple[dict, dict | None]:
        seen.append((len(candidate), len(baseline or [])))
        raise RuntimeError("killed while computing the verdict")

    with pytest.raises(RuntimeError):
        store.merge(None, [a, b], source_run_ids=latest, baseline_source_run_ids=baselines, finish=failing_finish)
    assert seen == [(9, 9)]  # both merged runs were there, inside the transaction
    assert store.list_runs() == [], "a failed merge left a run behind"

    def finish(candidate: list, baseline: list | None) -> tuple[dict, dict | None]:
        return {"n": len(candidate), "gate_passed": True}, {"n": len(baseline or [])}

    rid = store.merge(None, [a, b], source_run_ids=latest, baseline_source_run_ids=baselines, finish=finish)
    run = store.get_run(rid)
    assert run.summary_json == {"n": 9, "gate_passed": True}
    assert store.get_run(run.baseline_run_id).summary_json == {"n": 9}
    assert len(store.list_runs()) == 2
