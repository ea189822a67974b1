"""Provider faults: every case ends with exactly one stored row; retries counted; exit 0 or 3; deadlines."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import llmctl
from tests.reliability.helpers import make_project, result_rows, run_cli, store

N = 2000
FAULTS = dict(
    seed=7,
    rate_429=0.10,
    rate_500=0.10,
    rate_slow=0.02,
    rate_malformed=0.01,
    rate_drop=0.005,
    retry_after=0.05,
    slow_ms=1500,
)


def _check_one_row_per_case(root: Path, run_id: str, n: int) -> list[tuple]:
    rows = result_rows(root, run_id)
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "duplicate result rows"
    assert len(rows) == n and {r[1] for r in rows} == {f"case-{i:03d}" for i in range(n)}, "missing or extra cases"
    for key, case_id, error, _retries, n_scores in rows:
        if error is None:
            assert n_scores == 1, f"{case_id}: a success must carry its score"
        else:
            assert n_scores == 0, f"{case_id}: an error row has no scores"
    return rows


@pytest.mark.slow
def test_2000_cases_under_faults_all_eventually_succeed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}, **FAULTS) as srv:
        # 8 retries: the chance that a case fails 9 times at a ~23% fault rate is ~2e-6.
        make_project(tmp_path, srv.base_url, N, retries=8, timeout=0.5, concurrency=64)
        t0 = time.monotonic()
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        elapsed = time.monotonic() - t0
        assert code == 0, out[-3000:]
        statuses = srv.statuses
        # every kind of fault really happened
        for kind in ("429", "500", "malformed", "drop"):
            assert statuses.get(kind, 0) > 0, statuses
        assert srv.requests > N + 300  # slow answers are not counted in statuses until they finish
        run = store(tmp_path).list_runs()[0]
        assert run.status == "completed"
        rows = _check_one_row_per_case(tmp_path, run.id, N)
        assert all(r[2] is None for r in rows)
        # retries are counted per result: the stored counts add up to the server's extra requests,
        # less the free re-sends of requests dropped on a reused connection (at most one a drop)
        retries = sum(r[3] for r in rows)
        drops = statuses["drop"]
        assert srv.requests - N - drops <= retries <= srv.requests - N
        for i in (0, 1, 2, 500, 1999):
            text = f"question number {i}"
            (row,) = [r for r in rows if r[1] == f"case-{i:03d}"]
            assert srv.requests_for(text) - 1 - drops <= row[3] <= srv.requests_for(text) - 1
        assert elapsed < 90


def test_retries_exhausted_exit_3_and_cases_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 400
    with FakeOpenAIServer(responses={"question": "yes"}, **FAULTS) as srv:
        make_project(tmp_path, srv.base_url, n, retries=1, timeout=0.5, concurrency=32)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert code == 3, out[-3000:]
        run = store(tmp_path).list_runs()[0]
        rows = _check_one_row_per_case(tmp_path, run.id, n)
        failed = sorted(r[1] for r in rows if r[2] is not None)
        assert failed, "with 1 retry some cases must exhaust their retries"
        assert all(r[3] == 1 for r in rows if r[2] is not None)  # 1 retry each, then gave up
        assert "have no result after retries" in out
        for case_id in failed[:20]:
            assert case_id in out
        if len(failed) > 20:
            assert f"... and {len(failed) - 20} more" in out
        extra = srv.requests - n  # retries, and free re-sends of requests dropped on a reused connection
        assert extra - srv.statuses.get("drop", 0) <= sum(r[3] for r in rows) <= extra
        # --resume completes the run: only the failed cases are called again
        before = srv.requests
        srv.configure(rate_429=0, rate_500=0, rate_slow=0, rate_malformed=0, rate_drop=0)
        code, out = llmctl(tmp_path, "eval", "--resume", run.id, capsys=capsys)
        assert code == 0, out[-3000:]
        assert srv.requests - before == len(failed)
        rows = _check_one_row_per_case(tmp_path, run.id, n)
        assert all(r[2] is None for r in rows)


def test_no_retries_errors_are_stored_not_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 200
    with FakeOpenAIServer(responses={"question": "yes"}, **FAULTS) as srv:
        make_project(tmp_path, srv.base_url, n, retries=0, timeout=0.5, concurrency=32)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert code == 3, out[-3000:]
        # retries: 0 means one attempt each; a request dropped before any answer on a reused
        # connection is sent once more on a new one (llmctl.models._native), not as a retry
        assert n <= srv.requests <= n + srv.statuses.get("drop", 0)
        run = store(tmp_path).list_runs()[0]
        rows = _check_one_row_per_case(tmp_path, run.id, n)
        errors = [r for r in rows if r[2] is not None]
        assert 0 < len(errors) < n
        assert all(r[3] == 0 for r in rows)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conns.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(2)
        for c in conns:
            c.close()
        sock.close()


def test_deadline_with_a_server_that_never_answers(tmp_path: Path, silent_server: str) -> None:
    n = 50
    # a long per-call timeout and many retries: only the deadline can end this run
    make_project(tmp_path, silent_server, n, retries=5, timeout=60, concurrency=8)
    t0 = time.monotonic()
    proc = run_cli(tmp_path, "eval", "--no-cache", "--deadline", "3", timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert elapsed < 45, elapsed  # 3 s deadline + interpreter start and store work; without it: 60 s timeouts x 6 tries
    assert "Traceback" not in proc.stderr
    run = store(tmp_path).list_runs()[0]
    rows = _check_one_row_per_case(tmp_path, run.id, n)
    assert all(r[2] is not None and "deadline" in r[2] for r in rows)


def test_deadline_in_process_does_not_hang_with_slow_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 30
    with FakeOpenAIServer(responses={"question": "yes"}, latency_ms=10_000) as srv:
        make_project(tmp_path, srv.base_url, n, retries=3, timeout=30, concurrency=4)
        t0 = time.monotonic()
        code, out = llmctl(tmp_path, "eval", "--no-cache", "--deadline", "1.5", capsys=capsys)
        assert time.monotonic() - t0 < 10
        assert code == 3, out
        run = store(tmp_path).list_runs()[0]
        _check_one_row_per_case(tmp_path, run.id, n)
