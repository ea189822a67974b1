"""Several OS processes on one store file: concurrent writers, lock waits, kill -9."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_helpers import new_run, result_row, score_rows

import llmctl.store._connect as connect_mod
from llmctl.errors import StoreBusy
from llmctl.store import Store

WORKER = str(Path(__file__).with_name("store_worker.py"))


def spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = spawn("hold", path, seconds)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def integrity(store: Store) -> tuple[int, int, int]:
    """(results, results without exactly their two scores, orphan scores)."""

    ((total, incomplete, orphans),) = store.query(
        """
            SELECT
              (SELECT count(*) FROM results),
              (SELECT count(*) FROM results r WHERE (SELECT count(*) FROM scores s
                 WHERE s.run_id = r.run_id AND s.result_key = r.result_key) != 2),
              (SELECT count(*) FROM scores s WHERE NOT EXISTS (SELECT 1 FROM results r
                 WHERE s.run_id = r.run_id AND s.result_key = r.result_key))
        """
    )
    return total, incomplete, orphans


@pytest.mark.timeout(120)
def test_two_processes_write_to_one_store_at_once(store_path: Path) -> None:
    # both start before the file exists, so creating it is contended too
    procs = [spawn("write", store_path, 2000, 250) for _ in range(2)]
    run_ids = []
    for p in procs:
        out, err = p.communicate(timeout=100)
        assert p.returncode == 0, err
        run_ids.append(out.strip())
    store = Store(store_path)
    assert len(set(run_ids)) == 2
    for rid in run_ids:
        run = store.get_run(rid)
        assert run.n_results == 2000
    assert integrity(store) == (4000, 0, 0)


def test_waiting_for_the_lock_is_announced_once(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store(store_path).cache_put_many([{"key": "k"}])
    monkeypatch.setattr(connect_mod, "WAIT_NOTICE_AFTER_S", 0.1)
    messages: list[str] = []
    proc = hold(store_path, 0.5)
    try:
        store = Store(store_path, lock_timeout=20, on_wait=messages.append)
        rid = new_run(store)
    finally:
        proc.wait(timeout=10)
    assert store.get_run(rid).status == "running"
    assert len(messages) == 1
    assert "waiting for the store lock held by another llmctl process" in messages[0]
    assert f"PID {proc.pid}" in messages[0]


def test_lock_timeout_is_a_store_busy_error(store_path: Path) -> None:
    Store(store_path).cache_put_many([{"key": "k"}])
    proc = hold(store_path, 3)
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreBusy, match=r"locked by another process \(PID \d+\); gave up after waiting 0.3s"):
            Store(store_path, lock_timeout=0.3).list_runs()
        assert time.monotonic() - t0 < 2
    finally:
        proc.kill()
        proc.wait()


def test_a_flush_that_times_out_keeps_its_rows(store_path: Path) -> None:
    store = Store(store_path, lock_timeout=0.2)
    rid = new_run(store)
    w = store.writer(rid, batch_rows=2, flush_interval=60, background=False)
    proc = hold(store_path, 1.0)
    try:
        w.add(result_row(0), score_rows(0))
        with pytest.raises(StoreBusy, match="locked"):
            w.add(result_row(1), score_rows(1))
    finally:
        proc.wait(timeout=10)
    w.close()
    assert integrity(store) == (2, 0, 0)


@pytest.mark.timeout(120)
def test_kill_9_leaves_a_store_that_opens_with_whole_batches(store_path: Path) -> None:
    rng = random.Random(1234)
    store = Store(store_path)
    last = 0
    for trial in range(5):
        proc = spawn("forever", store_path, rng.choice([20, 100, 300]))
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started", proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        store = Store(store_path)  # a fresh open, as the next llmctl would
        runs = store.list_runs(limit=100)
        assert len(runs) == trial + 1
        assert all(r.n_results > 0 for r in runs)
        total, incomplete, orphans = integrity(store)
        assert (incomplete, orphans) == (0, 0)
        assert total > last
        last = total
    # and the store is still writable
    rid = new_run(store)
    with store.writer(rid) as w:
        w.add(result_row(0), score_rows(0))
    assert store.get_run(rid).n_results == 1
