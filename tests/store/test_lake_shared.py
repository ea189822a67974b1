"""The shared store for real: a PostgreSQL catalog, a SQLite catalog on a shared folder, S3 data (moto),
4 `llmctl eval` processes writing at once, a killed writer, a baseline another machine stored."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from llmctl.store import Store
from llmctl.store._schema import SCHEMA_VERSION

sys.path.insert(0, str(Path(__file__).parent))
from lake_project import llmctl, make_project, spawn, store_location
from services import Postgres, s3_server

pytest.importorskip("duckdb_extension_ducklake", reason="the `shared` extra is not installed")
# each test runs several llmctl processes, each loading the DuckLake extensions: minutes on a loaded machine
pytestmark = pytest.mark.timeout(900)

CASES = 2000
WRITERS = 4


def _pg_lake(pg: Postgres, name: str, data: Path) -> dict[str, str]:
    return {"ducklake": f"postgres:{pg.createdb(name)}", "data": str(data)}


def _check_every_result_once(store: Store, run_ids: list[str], cases: int) -> None:
    for rid in run_ids:
        run = store.get_run(rid)
        assert run.status == "completed", run
        assert run.n_results == cases
        assert run.gate_snapshot is not None and run.gate_snapshot > 0
    total = store.query(
        "SELECT count(*), count(DISTINCT (run_id, result_key)) FROM results WHERE list_contains(?, run_id)", [run_ids]
    )
    assert total == [(cases * len(run_ids), cases * len(run_ids))]
    scores = store.query(
        "SELECT count(*), count(DISTINCT (run_id, result_key, idx)) FROM scores WHERE list_contains(?, run_id)",
        [run_ids],
    )
    assert scores == [(cases * len(run_ids), cases * len(run_ids))]


def _eval_at_once(root: Path, count: int) -> list[str]:
    """`count` llmctl eval processes at once (evalset e0, e1, ...); every one must pass; their run ids."""
    procs = [spawn(["eval", f"evalsets/e{i}.yaml"], root) for i in range(count)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"{out[-2000:]}\n{err[-3000:]}"
    store = Store(store_location(root))
    runs = store.list_runs(limit=100)
    return [r.id for r in runs if r.evalset in {f"e{i}" for i in range(count)}]


@pytest.mark.slow
def test_four_writers_postgres_catalog(pg: Postgres, tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", _pg_lake(pg, "four", tmp_path / "data"), evalsets=WRITERS, cases=CASES)
    run_ids = _eval_at_once(root, WRITERS)
    assert len(run_ids) == WRITERS
    store = Store(store_location(root))
    _check_every_result_once(store, run_ids, CASES)
    assert store.query("SELECT count(*) FROM schema_migrations") == [(SCHEMA_VERSION,)]  # migrated once


@pytest.mark.slow
def test_four_writers_sqlite_catalog_on_a_shared_folder(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    lake = {"ducklake": f"sqlite:{shared}/catalog.sqlite", "data": str(shared / "data")}
    root = make_project(tmp_path / "p", lake, evalsets=WRITERS, cases=CASES)
    run_ids = _eval_at_once(root, WRITERS)
    assert len(run_ids) == WRITERS
    store = Store(store_location(root))
    _check_every_result_once(store, run_ids, CASES)
    assert store.query("SELECT count(*) FROM schema_migrations") == [(SCHEMA_VERSION,)]


@pytest.mark.slow
def test_a_killed_writer_leaves_no_partial_batch_and_resumes(pg: Postgres, tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p", _pg_lake(pg, "killed", tmp_path / "data"), cases=CASES, latency_ms=200
    )  # ~20 s of calls: killed mid-run even on an idle machine
    proc = spawn(["eval", "evalsets/e0.yaml", "--concurrency", "20"], root)
    store = Store(store_location(root))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.5)
        n = store.query("SELECT count(*) FROM results")[0][0]
        if n >= 300:
            break
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    run = store.list_runs(limit=1)[0]
    assert run.status == "running" and 0 < run.n_results < CASES
    # what another process sees: whole batches only (every stored result has its score)
    orphans = store.query(
        "SELECT count(*) FROM results r WHERE NOT EXISTS "
        "(SELECT 1 FROM scores s WHERE s.run_id = r.run_id AND s.result_key = r.result_key)"
    )
    assert orphans == [(0,)]
    done = llmctl(["eval", "--resume", run.id], root, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    _check_every_result_once(store, [run.id], CASES)


@pytest.mark.slow
def test_results_another_machine_stored_are_reused(pg: Postgres, tmp_path: Path, openai_server) -> None:  # type: ignore[no-untyped-def]
    """Two checkouts (two machines) share one store: the second takes the first's answers from the
    shared cache and calls the model for none of them."""
    openai_server.configure(responses={"Question": "shipped"})
    lake = _pg_lake(pg, "reuse", tmp_path / "data")
    first = make_project(tmp_path / "machine-a", lake, cases=40, api_base=openai_server.base_url)
    second = make_project(tmp_path / "machine-b", lake, cases=40, api_base=openai_server.base_url)
    one = llmctl(["eval", "evalsets/e0.yaml"], first, OPENAI_API_KEY="sk-test-not-a-key")
    assert one.returncode == 0, one.stderr[-2000:]
    calls = openai_server.requests
    assert calls >= 40
    two = llmctl(["eval", "evalsets/e0.yaml"], second, OPENAI_API_KEY="sk-test-not-a-key")
    assert two.returncode == 0, two.stderr[-2000:]
    assert openai_server.requests == calls  # no new model call
    store = Store(store_location(second))
    latest = store.list_runs(limit=1)[0]
    assert store.query("SELECT count(*) FROM results WHERE run_id = ? AND cached", [latest.id]) == [(40,)]
    for cmd in (["runs", "list"], ["runs", "show", latest.id], ["report", latest.id, "-o", "r.md"]):
        shown = llmctl(cmd, second)
        assert shown.returncode == 0, (cmd, shown.stderr[-2000:])
    assert "sk-test-not-a-key" not in str(store.query("SELECT * FROM results"))


@pytest.mark.slow
def test_s3_data_on_an_s3_compatible_server(tmp_path: Path) -> None:
    with s3_server() as s3:
        if isinstance(s3, str):
            pytest.skip(s3)
        s3.make_bucket("team-bucket")
        lake = {"ducklake": f"sqlite:{tmp_path}/catalog.sqlite", "data": "s3://team-bucket/llmctl/"}
        root = make_project(tmp_path / "p", lake, cases=30)
        done = llmctl(["eval", "evalsets/e0.yaml"], root, **s3.env)
        assert done.returncode == 0, done.stderr[-3000:]
        import boto3

        keys = [
            o["Key"]
            for o in boto3.client(
                "s3",
                endpoint_url=s3.env["AWS_ENDPOINT_URL"],
                region_name="us-east-1",
                aws_access_key_id=s3.env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=s3.env["AWS_SECRET_ACCESS_KEY"],
            )
            .list_objects_v2(Bucket="team-bucket", Prefix="llmctl/")
            .get("Contents", [])
        ]
        assert any(k.endswith(".parquet") for k in keys), keys
        listed = llmctl(["runs", "list", "--json"], root, **s3.env)
        assert listed.returncode == 0 and '"n_results": 30' in listed.stdout
        # the secret never reaches the store or the output
        for text in (
            done.stdout,
            done.stderr,
            listed.stdout,
            (tmp_path / "catalog.sqlite").read_bytes().decode("latin-1"),
        ):
            assert s3.env["AWS_SECRET_ACCESS_KEY"] not in text
