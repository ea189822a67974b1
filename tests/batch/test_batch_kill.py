"""kill -9 of `llmctl eval --batch` while it waits for its batch, then `--resume`: every case is
stored once and no batch is submitted twice (the fake server counts submissions)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.batch.helpers import KEY, batches, make_project, results, store
from tests.e2e.project import llmctl
from tests.reliability.helpers import popen_eval, sub_env

N = 8


def test_kill_9_while_waiting_then_resume_collects_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", KEY)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    with FakeOpenAIServer(batch_api=True, responses={"question": "yes"}) as srv:
        srv.batch.config.polls_validating = 10**6  # the batch stays `validating` until the test lets it go
        make_project(tmp_path, srv.base_url, N)
        proc = popen_eval(tmp_path, "--batch", "--batch-poll", "0.05", env=sub_env(FAKE_API_KEY=KEY))
        try:
            deadline = time.monotonic() + 240  # litellm's import alone can take half a minute here
            while srv.batch.retrievals < 3 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert srv.batch.retrievals >= 3, "the eval never waited on its batch"
        finally:
            proc.kill()  # SIGKILL: no handler, no flush
            out, err = proc.communicate(timeout=30)
        assert srv.batch.submissions == 1, out + err
        run = store(tmp_path).list_runs()[0]
        assert run.status == "running"  # killed: nothing marked it
        assert results(tmp_path, run.id) == []
        ((_, purpose, requests, _, _, collected),) = batches(tmp_path, run.id)
        assert (purpose, requests, collected) == ("cases", N, False)

        srv.batch.config.polls_validating = 0  # the provider gets to it
        code, text = llmctl(tmp_path, "eval", "--resume", run.id, "--batch-poll", "0.01", capsys=capsys)
        assert code == 0, text
        assert srv.batch.submissions == 1, "the batch in flight was submitted again"
        assert srv.batch.lines == N
        rows = results(tmp_path, run.id)
        assert [r[0] for r in rows] == [f"case-{i:03d}" for i in range(N)]  # each case once
        assert all(r[1] is None and r[5] == 1 for r in rows)
        assert store(tmp_path).get_run(run.id).status == "completed"
        assert [b[5] for b in batches(tmp_path, run.id)] == [True]


def test_kill_9_while_waiting_for_the_judge_batch_then_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", KEY)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    verdict = '{"score": 1, "pass": true, "reason": "fine"}'
    with FakeOpenAIServer(batch_api=True, responses={"faithful": verdict, "question": "yes"}) as srv:
        holding = True
        srv.batch.config.hold = lambda b: holding and (b.get("metadata") or {}).get("llmctl_purpose") == "judge"
        judge = {"type": "judge", "rubric": "Is the answer faithful?", "model": "fake", "threshold": 0.5}
        make_project(tmp_path, srv.base_url, 4, alias={"batch": True}, extra_evalset={"evaluators": [judge]})
        proc = popen_eval(tmp_path, "--batch-poll", "0.05", env=sub_env(FAKE_API_KEY=KEY))
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None:
                held = [b for b in srv.batch.batches.values() if (b["metadata"] or {}).get("llmctl_purpose") == "judge"]
                if held and srv.batch.retrievals >= 6:
                    break
                time.sleep(0.05)
            assert srv.batch.submissions == 2, "the eval never waited on its judge batch"
        finally:
            proc.kill()
            proc.communicate(timeout=30)
        run = store(tmp_path).list_runs()[0]
        assert results(tmp_path, run.id) == []  # nothing is stored before its judge answered
        holding = False
        code, text = llmctl(tmp_path, "eval", "--resume", run.id, "--batch-poll", "0.01", capsys=capsys)
        assert code == 0, text
        assert srv.batch.submissions == 2, "a batch in flight (cases or judge) was submitted again"
        rows = results(tmp_path, run.id)
        assert len(rows) == 4 and all(r[1] is None and r[5] == 1 for r in rows)
        passed = store(tmp_path).query("SELECT count(*) FROM scores WHERE run_id = ? AND passed", [run.id])
        assert passed == [(4,)]
        assert all(b[5] for b in batches(tmp_path, run.id))
