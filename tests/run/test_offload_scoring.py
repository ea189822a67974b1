"""CPU-heavy evaluators are scored off the event loop: calls in flight keep their timeouts,
`--deadline` and SIGTERM still stop a run (issue 22, item 7)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import llmctl
from tests.reliability.helpers import make_project, popen_eval, store, sub_env

SLOW = "(a|aa)+$"  # each search on SLOW_ANSWER runs into its 1 s timeout
SLOW_ANSWER = "a" * 60 + "!"


def _slow_scoring_project(root: Path, base_url: str, n: int, **kw: object) -> None:
    make_project(
        root,
        base_url,
        n,
        expected="a",
        extra_evalset={"evaluators": [{"type": "pii", "kinds": ["email"], "patterns": {"slow": SLOW}}]},
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.timeout(240)
def test_slow_scoring_does_not_time_out_calls_in_flight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    with FakeOpenAIServer(responses={"question": SLOW_ANSWER}, latency_ms=300) as srv:
        _slow_scoring_project(tmp_path, srv.base_url, 24, concurrency=8, timeout=2, retries=0)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert "Traceback" not in out
        run = store(tmp_path).list_runs()[0]
        rows = store(tmp_path).query(
            "SELECT r.error, s.error FROM results r JOIN scores s USING (run_id, result_key) WHERE r.run_id = $r",
            {"r": run.id},
        )
        assert len(rows) == 24
        assert [r[0] for r in rows if r[0] is not None] == []  # no call "timeout after 2s"
        assert all("took more than 1 s" in (r[1] or "") for r in rows)
        assert code == 0, out[-2000:]  # scored (as errors), not an infrastructure failure (exit 3)


@pytest.mark.timeout(240)
def test_deadline_and_sigterm_stop_a_run_with_slow_scoring(tmp_path: Path) -> None:
    with FakeOpenAIServer(responses={"question": SLOW_ANSWER}) as srv:
        _slow_scoring_project(tmp_path, srv.base_url, 60, concurrency=4)
        t0 = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "llmctl.cli.main", "eval", "--no-cache", "--deadline", "4"],
            cwd=tmp_path,
            env=sub_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert time.monotonic() - t0 < 40, "the deadline waited for scoring"
        assert "Traceback" not in done.stderr and done.returncode == 3, done.stderr[-2000:]
        run = store(tmp_path).list_runs()[0]
        errors = store(tmp_path).query("SELECT error FROM results WHERE run_id = $r", {"r": run.id})
        assert len(errors) == 60 and any("deadline exceeded" in (e[0] or "") for e in errors)

        proc = popen_eval(tmp_path, "--no-cache")
        time.sleep(6)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - t0 < 15, "SIGTERM waited for scoring"
        assert proc.returncode == 130, out + err
        assert "Traceback" not in err
