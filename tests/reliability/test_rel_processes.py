"""Processes: kill -9 at random points then --resume, two writers on one store, Ctrl-C and SIGTERM."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import llmctl
from tests.reliability.helpers import STORE, make_project, popen_eval, question, result_rows, store, sub_env

N = 40


def _successes(root: Path, run_id: str) -> set[str]:
    return {r[1] for r in result_rows(root, run_id) if r[2] is None}


def _assert_whole(root: Path, run_id: str) -> list[tuple]:
    rows = result_rows(root, run_id)
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "duplicate result rows"
    for _key, case_id, error, _retries, n_scores in rows:
        assert n_scores == (1 if error is None else 0), f"{case_id}: result stored without its scores"
    return rows


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(1234)
    trials = 10
    resumed = 0
    partial = 0  # trials killed with some results stored and some not
    for trial in range(trials):
        root = tmp_path / f"t{trial}"
        with FakeOpenAIServer(responses={"question": "yes"}, latency_ms=120) as srv:
            # 40 cases x 120 ms / 4 in flight: ~1.2 s of calls after the start-up
            make_project(root, srv.base_url, N, concurrency=4)
            proc = popen_eval(root, "--no-cache")
            started = time.monotonic()
            answered: list[tuple[float, int]] = []  # (time, server's 200 answers so far)
            if trial < 2:  # during start-up: config, store creation, run creation
                kill_at = rng.uniform(0.2, 1.5)
            else:  # while calls are going (and batches are being written)
                while srv.requests == 0 and time.monotonic() - started < 30:
                    time.sleep(0.01)
                started = time.monotonic()
                kill_at = rng.uniform(0.05, 1.3)
            while time.monotonic() - started < kill_at:
                answered.append((time.monotonic(), srv.statuses.get("200", 0)))
                time.sleep(0.02)
            proc.kill()  # SIGKILL: no handler, no flush
            proc.communicate(timeout=10)
            killed = time.monotonic()
            db = root / STORE
            if not db.exists():
                continue  # killed before the store was created: nothing to check
            st = store(root)
            runs = st.list_runs()  # the store always opens after a kill
            if not runs:
                continue
            run = runs[0]
            if run.status == "completed":  # the kill came after the end
                assert len(_assert_whole(root, run.id)) == N
                continue
            assert run.status == "running"
            rows = _assert_whole(root, run.id)
            done = _successes(root, run.id)
            # Nothing answered more than a second before the kill is lost (the writer flushes every 0.5 s).
            answered_early = max((n for t, n in answered if t <= killed - 1.0), default=0)
            assert len(done) >= answered_early, (trial, len(done), answered_early)
            partial += 0 < len(done) < N
            calls_before = {i: srv.requests_for(question(i)) for i in range(N)}
            srv.configure(latency_ms=0)
            code, out = llmctl(root, "eval", "--resume", run.id, capsys=capsys)
            assert code == 0, out
            resumed += 1
            after = _assert_whole(root, run.id)
            assert len(after) == N and all(r[2] is None for r in after)
            assert {r[1] for r in after} == {f"case-{i:03d}" for i in range(N)}
            assert len(rows) <= len(after)
            for i in range(N):
                extra = srv.requests_for(question(i)) - calls_before[i]
                if f"case-{i:03d}" in done:
                    assert extra == 0, f"case-{i:03d} was stored as finished but called again"
                else:
                    assert extra == 1, f"case-{i:03d} was not finished but not called exactly once"
            assert st.get_run(run.id).status == "completed"
    assert resumed >= trials // 2, "too few trials killed the run mid-way"
    assert partial >= 3, "too few trials killed the run between two written batches"
    print(f"kill -9: {trials} trials, {resumed} resumed, {partial} with a partial run")


def test_two_processes_share_one_store(tmp_path: Path) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}, latency_ms=20) as srv:
        make_project(tmp_path, srv.base_url, 150, concurrency=8)
        procs = [popen_eval(tmp_path, "--no-cache") for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, out + err
        assert srv.requests == 300
        runs = store(tmp_path).list_runs()
        assert len(runs) == 2
        for run in runs:
            assert run.status == "completed"
            assert run.n_results == 150 and run.n_errors == 0
            assert len(_assert_whole(tmp_path, run.id)) == 150


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_keeps_finished_results(
    tmp_path: Path, sig: signal.Signals, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}, latency_ms=100) as srv:
        make_project(tmp_path, srv.base_url, 200, concurrency=4)  # ~5 s of calls
        proc = popen_eval(tmp_path, "--no-cache")
        deadline = time.monotonic() + 20
        while srv.statuses.get("200", 0) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.7)  # let the writer flush at least once
        answered = srv.statuses.get("200", 0)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, out + err
        assert "Traceback" not in err
        run = store(tmp_path).list_runs()[0]
        assert run.status == "interrupted"
        assert f"finish it with: llmctl eval --resume {run.id}" in err, err
        rows = _assert_whole(tmp_path, run.id)
        stored = [r for r in rows if r[2] is None]
        assert len(stored) >= answered - 4 * 2, (len(stored), answered)  # at most what was in flight is lost
        assert len(rows) < 200
        srv.configure(latency_ms=0)
        code, text = llmctl(tmp_path, "eval", "--resume", run.id, capsys=capsys)
        assert code == 0, text
        rows = _assert_whole(tmp_path, run.id)
        assert len(rows) == 200 and all(r[2] is None for r in rows)


def test_sigterm_stops_a_run_started_with_sigint_ignored(tmp_path: Path) -> None:
    """`llmctl eval &` in a script (or nohup) starts with SIGINT ignored: `kill` must still stop it."""
    with FakeOpenAIServer(responses={"question": "yes"}, latency_ms=100) as srv:
        make_project(tmp_path, srv.base_url, 200, concurrency=4)  # ~5 s of calls
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmctl.cli.main", "eval", "--no-cache"],
            cwd=tmp_path,
            env=sub_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        deadline = time.monotonic() + 20
        while srv.statuses.get("200", 0) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, out + err
        assert srv.statuses.get("200", 0) < 200
        run = store(tmp_path).list_runs()[0]
        assert run.status == "interrupted"
