from __future__ import annotations

import re

import pytest
from store_helpers import fill, new_run, result_row, score_rows

from llmctl.errors import InputError
from llmctl.store import Store, new_run_id


def test_new_run_ids_are_short_unique_and_sortable() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(re.fullmatch(r"r\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)
    assert Store.new_run_id()[:9] == ids[0][:9]


def test_create_get_finish(store: Store) -> None:
    rid = new_run(store, baseline_run_id="rbase", shard="1/2", config={"models": ["echo"]})
    run = store.get_run(rid)
    assert run.status == "running"
    assert run.config == {"models": ["echo"]}
    assert run.shard == "1/2"
    assert run.baseline_run_id == "rbase"
    assert run.llmctl_version
    assert run.finished_at is None
    assert run.n_results == 0 and run.pass_rate is None
    fill(store, rid, 6)
    store.finish_run(rid, "completed", {"pass_rate": 0.5, "gate": {"passed": True}})
    run = store.get_run(rid)
    assert run.status == "completed"
    assert run.summary_json == {"pass_rate": 0.5, "gate": {"passed": True}}
    assert run.finished_at >= run.started_at
    assert (run.n_results, run.n_errors, run.n_passed) == (6, 0, 4)
    assert run.pass_rate == pytest.approx(4 / 6)
    assert run.cost_usd == pytest.approx(0.006)
    assert run.prompts == ("summarize",) and run.models == ("echo",)


def test_create_run_with_a_given_id_and_duplicates(store: Store) -> None:
    assert new_run(store, run_id="rfixed") == "rfixed"
    with pytest.raises(InputError, match="already exists"):
        new_run(store, run_id="rfixed")


def test_finish_run_checks_status_and_run(store: Store) -> None:
    rid = new_run(store)
    with pytest.raises(ValueError, match="unknown run status"):
        store.finish_run(rid, "done", {})
    with pytest.raises(InputError, match="no run"):
        store.finish_run("rmissing", "failed", {})


def test_get_run_by_prefix_unknown_and_ambiguous(store: Store) -> None:
    a = new_run(store, run_id="r20260101-000000-aaaaaa")
    b = new_run(store, run_id="r20260101-000000-aabbbb")
    new_run(store, run_id="r20260102-000000-cccccc")
    assert store.get_run("r20260101-000000-aaa").id == a
    assert store.get_run(b).id == b
    assert store.get_run("latest").id == "r20260102-000000-cccccc"
    with pytest.raises(InputError) as amb:
        store.get_run("r20260101-000000-aa")
    assert "ambiguous" in str(amb.value) and a in str(amb.value) and b in str(amb.value)
    with pytest.raises(InputError) as unknown:
        store.get_run("rnope")
    assert "no run matches 'rnope'" in str(unknown.value)
    assert "recent runs:" in str(unknown.value) and a in str(unknown.value)
    with pytest.raises(InputError):
        store.get_run("")
    # LIKE wildcards in the prefix are taken literally
    with pytest.raises(InputError, match="no run matches"):
        store.get_run("r2026%")


def test_get_run_in_an_empty_store(store: Store) -> None:
    with pytest.raises(InputError) as info:
        store.get_run("r1")
    assert "has no runs yet" in str(info.value)


def test_list_runs_filters_and_counts(store: Store) -> None:
    r1 = new_run(store, run_id="r1", evalset="summarize")
    fill(store, r1, 3)
    r2 = new_run(store, run_id="r2", evalset="triage")
    with store.writer(r2) as w:
        w.add(result_row(0, prompt="triage"), score_rows(0))
        w.add(result_row(1, prompt="summarize"), [])
        w.add(result_row(2, prompt="summarize", error="timeout", output=None, passed=False), [])
    r3 = new_run(store, run_id="r3", evalset="summarize")
    assert [r.id for r in store.list_runs()] == [r3, r2, r1]
    assert [r.id for r in store.list_runs(limit=2)] == [r3, r2]
    assert [r.id for r in store.list_runs(evalset="summarize")] == [r3, r1]
    by_prompt = store.list_runs(prompt="summarize")
    assert [r.id for r in by_prompt] == [r2, r1]
    assert (by_prompt[0].n_results, by_prompt[0].n_errors, by_prompt[0].n_passed) == (2, 1, 1)
    whole = store.get_run(r2)
    assert (whole.n_results, whole.n_errors) == (3, 1)
    assert store.list_runs(prompt="triage")[0].n_results == 1


def test_latest_run_for_and_runs_for_version(store: Store) -> None:
    old = new_run(store, run_id="r1")
    fill(store, old, 2)
    store.finish_run(old, "completed", {})
    new = new_run(store, run_id="r2")
    fill(store, new, 2, version_hash="sha256:v2")
    fill(store, new, 4, start=10)
    store.finish_run(new, "completed", {})
    running = new_run(store, run_id="r3")
    fill(store, running, 1)
    failed = new_run(store, run_id="r4", evalset="other")
    fill(store, failed, 1)
    store.finish_run(failed, "failed", {})

    latest = store.latest_run_for("summarize", "sha256:v1")
    assert latest is not None and latest.id == new
    assert latest.n_results == 4  # counted over that version's results only
    assert store.latest_run_for("summarize", "sha256:v1", evalset="summarize").id == new  # type: ignore[index]
    assert store.latest_run_for("summarize", "sha256:v1", evalset="other") is None
    assert store.latest_run_for("summarize", "sha256:nope") is None
    assert store.latest_run_for("other", "sha256:v1") is None
    assert [r.id for r in store.runs_for_version("summarize", "sha256:v1")] == [failed, running, new, old]
    assert [r.id for r in store.runs_for_version("summarize", "sha256:v2")] == [new]


def test_resume_run(store: Store) -> None:
    rid = new_run(store)
    store.finish_run(rid, "interrupted", {})
    run = store.resume_run(rid[:-2])
    assert run.status == "running" and run.finished_at is None
