"""One process per run: two `--resume` of one run never both call the unfinished cases."""

from __future__ import annotations

import time
from pathlib import Path

from llmctl.testing.server import FakeOpenAIServer
from tests.reliability.helpers import STORE, make_project, popen_eval, question, result_rows, store

N = 120


def _wait_for_answers(srv: FakeOpenAIServer, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while srv.statuses.get("200", 0) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_two_concurrent_resumes_of_one_run_call_each_case_once(tmp_path: Path) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}, latency_ms=150) as srv:
        make_project(tmp_path, srv.base_url, N, concurrency=2)
        first = popen_eval(tmp_path, "--no-cache")
        _wait_for_answers(srv, 10)
        time.sleep(0.8)  # a batch is written
        first.kill()  # kill -9: the lock goes with the process
        first.communicate(timeout=10)
        run_id = store(tmp_path).list_runs()[0].id
        done = {r[1] for r in result_rows(tmp_path, run_id) if r[2] is None}
        assert 0 < len(done) < N
        before = {i: srv.requests_for(question(i)) for i in range(N)}

        procs = [popen_eval(tmp_path, "--resume", run_id) for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in procs]
        codes = sorted(p.returncode for p in procs)
        assert codes == [0, 2], outs
        refused = next(err for p, (_out, err) in zip(procs, outs, strict=True) if p.returncode == 2)
        assert f"run {run_id} is being run by another llmctl process (PID" in refused, refused
        assert "Traceback" not in refused

        for i in range(N):
            extra = srv.requests_for(question(i)) - before[i]
            expected = 0 if f"case-{i:03d}" in done else 1
            assert extra == expected, f"case-{i:03d}: called {extra} more time(s), expected {expected}"
        rows = result_rows(tmp_path, run_id)
        assert len(rows) == N and all(r[2] is None for r in rows)
        assert store(tmp_path).get_run(run_id).status == "completed"
        assert not [p.name for p in (tmp_path / STORE).parent.iterdir() if p.name.endswith(".lock")]


def test_resume_of_a_run_still_running_is_refused(tmp_path: Path) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}, latency_ms=150) as srv:
        make_project(tmp_path, srv.base_url, N, concurrency=2)
        first = popen_eval(tmp_path, "--no-cache")
        try:
            _wait_for_answers(srv, 4)
            run_id = store(tmp_path).list_runs()[0].id
            second = popen_eval(tmp_path, "--resume", run_id)
            out, err = second.communicate(timeout=60)
            assert second.returncode == 2, out + err
            assert "being run by another llmctl process" in err
            assert first.poll() is None
        finally:
            first.kill()
            first.communicate(timeout=10)
