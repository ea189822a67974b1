"""Shards that wrote into one shared store (4 `llmctl eval --shard i/4` processes at once, a
PostgreSQL or a SQLite catalog) merged by run id into one verdict, without store files."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml

from llmctl.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from lake_project import llmctl, make_project, spawn, store_location
from services import Postgres

pytest.importorskip("duckdb_extension_ducklake", reason="the `shared` extra is not installed")
# each test runs several llmctl processes, each loading the DuckLake extensions: minutes on a loaded machine
pytestmark = pytest.mark.timeout(900)

CASES = 400
SHARDS = 4
RUN_ID = re.compile(r"\br\d{8}-\d{6}-[0-9a-f]+\b")


def _project(root: Path, lake: dict[str, str], *, latency_ms: float = 0) -> Path:
    """make_project's one evalset, with cases ending in 7 failing (a 90% pass rate) and a gate
    that needs 95%: the verdict fails, sharded or not."""
    make_project(root, lake, cases=CASES, latency_ms=latency_ms)
    cfg = yaml.safe_load((root / "llmctl.yaml").read_text(encoding="utf-8"))
    cfg["models"]["bot"]["responses"] = {"/7$/": "no"}
    cfg["gate"] = {"quality": {"min_pass_rate": 0.95}}
    (root / "llmctl.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return root


def _run_id(out: str) -> str:
    found = RUN_ID.findall(out)
    assert found, out
    return str(found[0])


def _shards_at_once(root: Path) -> list[str]:
    procs = [spawn(["eval", "evalsets/e0.yaml", "--shard", f"{i}/{SHARDS}"], root) for i in range(1, SHARDS + 1)]
    outs = [p.communicate(timeout=900) for p in procs]
    ids = []
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode in (0, 1), f"{out[-2000:]}\n{err[-3000:]}"  # a shard's own gate: its share of 7s
        ids.append(_run_id(out))
    return ids


def _merged_verdict_is_the_unsharded_one(root: Path, store: Store, ids: list[str]) -> str:
    whole = llmctl(["eval", "evalsets/e0.yaml"], root, timeout=900)
    assert whole.returncode == 1, whole.stderr[-3000:]
    unsharded = store.get_run(_run_id(whole.stdout))
    merged_out = llmctl(["runs", "merge", *ids], root, timeout=900)
    assert merged_out.returncode == whole.returncode, merged_out.stdout[-2000:] + merged_out.stderr[-3000:]
    merged = store.get_run(_run_id(merged_out.stdout.split("into run", 1)[1]))
    assert merged.n_results == unsharded.n_results == CASES
    assert merged.pass_rate == unsharded.pass_rate == pytest.approx(0.9)
    assert merged.status == "completed"
    assert merged.summary_json["verdict"]["passed"] is unsharded.summary_json["verdict"]["passed"] is False
    assert merged.gate_snapshot is not None and merged.gate_snapshot > 0
    assert sorted(o.case_id for o in store.outcomes(merged.id)) == sorted(
        o.case_id for o in store.outcomes(unsharded.id)
    )
    # each result and score once
    assert store.query("SELECT count(*), count(DISTINCT result_key) FROM results WHERE run_id = ?", [merged.id]) == [
        (CASES, CASES)
    ]
    assert store.query("SELECT count(*) FROM scores WHERE run_id = ?", [merged.id]) == [(CASES,)]
    return str(merged.id)


def _merge_again_is_idempotent(root: Path, store: Store, ids: list[str], merged: str) -> None:
    runs = len(store.list_runs(limit=1000))
    again = llmctl(["runs", "merge", *ids], root, timeout=900)
    assert again.returncode == 1, again.stderr[-3000:]
    assert _run_id(again.stdout.split("into run", 1)[1]) == merged
    assert len(store.list_runs(limit=1000)) == runs
    assert store.query("SELECT count(*) FROM results WHERE run_id = ?", [merged]) == [(CASES,)]
    assert store.query("SELECT count(*) FROM scores WHERE run_id = ?", [merged]) == [(CASES,)]


@pytest.mark.slow
def test_four_shards_into_a_postgres_catalog_merge_by_run_id(pg: Postgres, tmp_path: Path) -> None:
    lake = {"ducklake": f"postgres:{pg.createdb('shards')}", "data": str(tmp_path / "data")}
    root = _project(tmp_path / "p", lake)
    ids = _shards_at_once(root)
    store = Store(store_location(root))
    assert sum(store.get_run(r).n_results for r in ids) == CASES
    merged = _merged_verdict_is_the_unsharded_one(root, store, ids)
    _merge_again_is_idempotent(root, store, ids, merged)
    bad = llmctl(["runs", "merge", ids[0], "r20990101-000000-000000"], root)
    assert bad.returncode == 2 and "r20990101-000000-000000" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_four_shards_into_a_sqlite_catalog_merge_by_run_id(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    lake = {"ducklake": f"sqlite:{shared}/catalog.sqlite", "data": str(shared / "data")}
    root = _project(tmp_path / "p", lake)
    ids = _shards_at_once(root)
    store = Store(store_location(root))
    merged = _merged_verdict_is_the_unsharded_one(root, store, ids)
    _merge_again_is_idempotent(root, store, ids, merged)


@pytest.mark.slow
def test_a_killed_shard_is_resumed_before_the_merge(pg: Postgres, tmp_path: Path) -> None:
    lake = {"ducklake": f"postgres:{pg.createdb('killed_shard')}", "data": str(tmp_path / "data")}
    root = _project(tmp_path / "p", lake, latency_ms=100)
    # shard 1 slowly (~10 s of calls at 1 at a time), the others at full speed
    slow = spawn(["eval", "evalsets/e0.yaml", "--shard", f"1/{SHARDS}", "--concurrency", "1"], root)
    rest = [
        spawn(["eval", "evalsets/e0.yaml", "--shard", f"{i}/{SHARDS}", "--concurrency", "50"], root)
        for i in range(2, SHARDS + 1)
    ]
    ids = []
    for p in rest:
        out, err = p.communicate(timeout=900)
        assert p.returncode in (0, 1), err[-3000:]
        ids.append(_run_id(out))
    store = Store(store_location(root))
    deadline = time.monotonic() + 300
    killed = None
    while time.monotonic() < deadline and killed is None:
        time.sleep(0.3)
        rows = store.query("SELECT id FROM runs WHERE shard = ? AND status = 'running'", [f"1/{SHARDS}"])
        if rows and store.query("SELECT count(*) FROM results WHERE run_id = ?", [rows[0][0]])[0][0] >= 20:
            killed = str(rows[0][0])
    assert slow.poll() is None and killed is not None, "shard 1 finished before it could be killed"
    # stopped first, so it cannot finish between the look above and the kill (it did once, under load)
    os.kill(slow.pid, signal.SIGSTOP)
    stopped = store.get_run(killed)
    assert stopped.status == "running", "shard 1 finished before it could be stopped"
    os.kill(slow.pid, signal.SIGKILL)
    slow.wait(timeout=30)
    assert 0 < store.get_run(killed).n_results < CASES // SHARDS
    refused = llmctl(["runs", "merge", killed, *ids], root)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"llmctl eval --resume {killed}" in refused.stderr
    assert not store.query("SELECT id FROM runs WHERE json_extract(config, '$.merged_from') IS NOT NULL")
    resumed = llmctl(["eval", "--resume", killed, "--concurrency", "50"], root, timeout=900)
    assert resumed.returncode in (0, 1), resumed.stderr[-3000:]
    assert store.get_run(killed).status == "completed"
    merged = _merged_verdict_is_the_unsharded_one(root, store, [killed, *ids])
    _merge_again_is_idempotent(root, store, [killed, *ids], merged)
