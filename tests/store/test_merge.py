from __future__ import annotations

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
    assert run["n_results"] == 25 and run["status"] == "failed"
    assert run["evalset"] == "summarize" and run["git_commit"] == "abc123" and run["shard"] is None
    assert [m["shard"] for m in run["config"]["merged_from"]] == ["1of2", "2of2"]
    out = store.outcomes(rid)
    assert sorted(int(o.case_id.split("-")[1]) for o in out) == list(range(25))
    assert all(set(o.scores) == {"contains", "judge"} for o in out)
    assert store.get_prompt_version("sha256:v1") is not None
    # merging again into the same run adds nothing
    assert store.merge(rid, [a, b]) == rid
    assert store.get_run(rid)["n_results"] == 25
    assert len(store.results_table(rid)) == 25


def test_merge_into_a_named_run_with_overlap(tmp_path: Path, store: Store) -> None:
    a = shard(tmp_path, "a", range(0, 5))
    b = shard(tmp_path, "b", range(3, 8))
    assert store.merge("rmerged", [a, b]) == "rmerged"
    run = store.get_run("rmerged")
    assert run["n_results"] == 8 and run["status"] == "completed"
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
