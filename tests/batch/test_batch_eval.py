"""`llmctl eval --batch` end to end against the fake server's Files and Batches endpoints
(llmctl.testing.batches), through litellm's real batch functions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.batch.helpers import KEY, STORE, batches, latest, make_project, results, store
from tests.e2e.project import llmctl

POLL = ("--batch-poll", "0.01")
DIRECT_COST = 5 * 0.01 / 1000 + 1 * 0.02 / 1000  # 5 prompt tokens, 1 completion token at the alias's price


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> FakeOpenAIServer:
    monkeypatch.setenv("FAKE_API_KEY", KEY)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    with FakeOpenAIServer(batch_api=True, responses={"question": "yes"}) as server:
        yield server


def test_batch_waits_stores_like_direct_calls_and_prices_at_batch_rates(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, srv.base_url, 6)
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 0, out
    assert srv.batch.submissions == 1 and srv.batch.uploads == 1
    assert srv.batch.lines == 6 and srv.requests == 6  # every call was a line of the batch
    assert "[batch] " in out and "requests 6/6 answered" in out and "elapsed" in out
    assert "priced at batch rates" in out and "half the normal price" in out
    run = latest(tmp_path)
    rows = results(tmp_path, run.id)
    assert [r[0] for r in rows] == [f"case-{i:03d}" for i in range(6)]
    for _case, error, output, cost, _latency, n_scores in rows:
        assert error is None and output == "yes" and n_scores == 1
        assert cost == pytest.approx(DIRECT_COST / 2)
    ((batch_id, purpose, requests, status, reason, collected),) = batches(tmp_path, run.id)
    assert (purpose, requests, status, reason, collected) == ("cases", 6, "completed", None, True)
    # the request lines are the native transport's bodies, keyed by the result key
    file_id = srv.batch.batches[batch_id]["input_file_id"]
    lines = [json.loads(line) for line in srv.batch.files[file_id][2].decode().splitlines()]
    keys = {r[0] for r in store(tmp_path).query("SELECT result_key FROM results WHERE run_id = ?", [run.id])}
    assert {line["custom_id"] for line in lines} == keys
    assert lines[0]["url"] == "/v1/chat/completions" and lines[0]["body"]["model"] == "fake-model"
    assert lines[0]["body"]["messages"][0] == {"role": "system", "content": "Answer briefly."}
    # the key never reaches the store
    assert KEY.encode() not in (tmp_path / STORE).read_bytes()
    # cache writes as for direct calls: the same eval again makes no call and submits nothing
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 0, out
    assert srv.batch.submissions == 1 and srv.requests == 6
    assert store(tmp_path).get_run("latest").n_results == 6


def test_no_wait_submits_then_resume_collects_without_resubmitting(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, srv.base_url, 4)
    code, out = llmctl(tmp_path, "eval", "--batch", "--no-wait", *POLL, capsys=capsys)
    assert code == 0, out
    run = latest(tmp_path)
    assert run.status == "submitted"
    assert "submitted, not evaluated" in out and "gate: not run" in out
    assert f"llmctl eval --resume {run.id}" in out
    assert results(tmp_path, run.id) == []
    assert srv.batch.submissions == 1 and srv.batch.lines == 0
    code, out = llmctl(tmp_path, "eval", "--resume", run.id, *POLL, capsys=capsys)
    assert code == 0, out
    assert srv.batch.submissions == 1, "a batch in flight was submitted again"
    assert store(tmp_path).get_run(run.id).status == "completed"
    rows = results(tmp_path, run.id)
    assert len(rows) == 4 and all(r[1] is None and r[5] == 1 for r in rows)


def test_failed_requests_are_errors_and_resume_retries_only_them(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [{"id": f"case-{i:03d}", "vars": {"question": f"question number {i}"}} for i in range(4)]
    cases[1]["vars"]["question"] = "question number 1 [[faults=500]]"  # its first request fails
    make_project(tmp_path, srv.base_url, 4, cases=cases)
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 3, out
    run = latest(tmp_path)
    errors = {r[0]: r[1] for r in results(tmp_path, run.id) if r[1]}
    assert list(errors) == ["case-001"]
    assert "batch request failed" in errors["case-001"] and "HTTP 500" in errors["case-001"]
    code, out = llmctl(tmp_path, "eval", "--resume", run.id, *POLL, capsys=capsys)
    assert code == 0, out
    assert srv.batch.submissions == 2
    retried = batches(tmp_path, run.id)[-1]
    assert retried[2] == 1, "only the failed request goes in the second batch"
    rows = results(tmp_path, run.id)
    assert len(rows) == 4 and all(r[1] is None for r in rows)


def test_expired_batch_keeps_what_it_answered_and_reports_the_rest(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.batch.config.lines_per_poll = 2
    srv.batch.config.expire_after_polls = 1
    make_project(tmp_path, srv.base_url, 5)
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 3, out
    assert "1 expired (3 request(s) unanswered: expired: the completion window ended" in out
    run = latest(tmp_path)
    rows = results(tmp_path, run.id)
    assert len(rows) == 5
    assert sum(1 for r in rows if r[1] is None) == 2
    assert all("batch_expired" in r[1] for r in rows if r[1])
    ((_, _, _, status, reason, _),) = batches(tmp_path, run.id)
    assert status == "expired" and reason.startswith("expired")
    srv.batch.config.expire_after_polls = None
    srv.batch.config.lines_per_poll = 0
    code, out = llmctl(tmp_path, "eval", "--resume", run.id, *POLL, capsys=capsys)
    assert code == 0, out
    assert batches(tmp_path, run.id)[-1][2] == 3  # only the unanswered ones again
    assert all(r[1] is None for r in results(tmp_path, run.id))


def test_cancelled_batch_is_reported_by_count_with_its_reason(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, srv.base_url, 3)
    code, out = llmctl(tmp_path, "eval", "--batch", "--no-wait", *POLL, capsys=capsys)
    assert code == 0, out
    run = latest(tmp_path)
    ((batch_id, *_),) = batches(tmp_path, run.id)

    async def cancel() -> None:
        import litellm

        await litellm.acancel_batch(batch_id=batch_id, custom_llm_provider="openai", api_base=srv.base_url, api_key=KEY)

    asyncio.run(cancel())
    code, out = llmctl(tmp_path, "eval", "--resume", run.id, *POLL, capsys=capsys)
    assert code == 3, out
    assert "1 cancelled (3 request(s) unanswered: cancelled)" in out
    rows = results(tmp_path, run.id)
    assert len(rows) == 3 and all("cancelled without an answer" in r[1] for r in rows)


def test_judge_calls_go_as_a_second_batch(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.configure(responses={"faithful": '{"score": 1, "pass": true, "reason": "fine"}', "question": "yes"})
    judge = {"type": "judge", "rubric": "Is the answer faithful?", "model": "fake", "threshold": 0.5}
    make_project(tmp_path, srv.base_url, 3, alias={"batch": True}, extra_evalset={"evaluators": [judge]})
    code, out = llmctl(tmp_path, "eval", *POLL, capsys=capsys)
    assert code == 0, out
    run = latest(tmp_path)
    assert [b[1] for b in batches(tmp_path, run.id)] == ["cases", "judge"]
    assert srv.batch.submissions == 2 and srv.requests == 6
    judged = store(tmp_path).query(
        "SELECT count(*), count(*) FILTER (passed) FROM scores WHERE run_id = ? AND evaluator = 'judge'", [run.id]
    )
    assert judged == [(3, 3)]
    calls = store(tmp_path).query("SELECT cost_usd FROM judge_calls WHERE run_id = ?", [run.id])
    assert len(calls) == 3 and all(c[0] > 0 for c in calls)


def test_agent_loops_say_they_cannot_be_batched_and_run_directly(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [{"id": f"case-{i:03d}", "vars": {"question": f"question number {i}"}} for i in range(3)]
    cases[2]["turns"] = ["and again?"]
    make_project(tmp_path, srv.base_url, 3, cases=cases)
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 0, out
    assert "1 call(s) of agent loops or multi-turn conversations cannot be batched" in out
    run = latest(tmp_path)
    assert batches(tmp_path, run.id)[0][2] == 2
    assert srv.batch.lines == 2 and srv.requests == 4  # 2 batch lines + 2 direct turns
    assert len(results(tmp_path, run.id)) == 3


def test_a_batch_answer_that_is_not_a_completion_is_that_case_s_error(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.configure(bodies={"question number 1": "not json at all", "question number 2": {"choices": "odd"}})
    make_project(tmp_path, srv.base_url, 3)
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 3, out
    errors = {r[0]: r[1] for r in results(tmp_path, latest(tmp_path).id)}
    assert errors["case-000"] is None
    assert errors["case-001"] and errors["case-002"] and "Traceback" not in out


def test_batch_on_an_offline_model_runs_directly_with_a_note(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, srv.base_url, 2, extra_evalset={"models": ["echo"], "evaluators": []})
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 0, out
    assert "model echo is called directly, not batched" in out
    assert srv.batch.submissions == 0


def test_requests_are_split_at_the_provider_limit(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmctl.batch._engine.MAX_REQUESTS", 2)
    make_project(tmp_path, srv.base_url, 5, extra_evalset={"batch": True})
    code, out = llmctl(tmp_path, "eval", *POLL, capsys=capsys)
    assert code == 0, out
    assert [b[2] for b in batches(tmp_path, latest(tmp_path).id)] == [2, 2, 1]
    assert srv.batch.submissions == 3


def test_a_batch_the_store_missed_is_found_by_its_metadata_not_resubmitted(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, srv.base_url, 3)
    code, out = llmctl(tmp_path, "eval", "--batch", "--no-wait", *POLL, capsys=capsys)
    assert code == 0, out
    run = latest(tmp_path)
    # the process died after the provider accepted the batch, before the store recorded it
    store(tmp_path)._db.run(
        lambda con: [con.execute(f"DELETE FROM {t} WHERE run_id = ?", [run.id]) for t in ("batch_requests", "batches")]
    )
    code, out = llmctl(tmp_path, "eval", "--resume", run.id, *POLL, capsys=capsys)
    assert code == 0, out
    assert "was submitted but not recorded; collecting it" in out
    assert srv.batch.submissions == 1
    assert len(results(tmp_path, run.id)) == 3


def test_baseline_and_candidate_share_one_request_per_unchanged_call(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.project import git, init_repo

    init_repo(tmp_path)
    make_project(tmp_path, srv.base_url, 3)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    code, out = llmctl(tmp_path, "eval", "--batch", "--baseline", "HEAD", *POLL, capsys=capsys)
    assert code == 0, out
    assert srv.batch.submissions == 1 and srv.batch.lines == 3  # the unchanged prompt: one request per case
    cand = latest(tmp_path)
    base_id = cand.baseline_run_id
    assert base_id and len(results(tmp_path, base_id)) == 3 and len(results(tmp_path, cand.id)) == 3
    cached = store(tmp_path).query("SELECT count(*) FILTER (cached) FROM results WHERE run_id = ?", [cand.id])
    assert cached == [(3,)]
    assert store(tmp_path).get_run(base_id).status == "completed"


def test_a_batch_api_that_cannot_be_reached_is_an_infrastructure_error(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    make_project(tmp_path, dead, 2, alias={"timeout": 1})
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 3, out
    assert "could not submit a batch of 2 request(s) for fake" in out
    assert "Traceback" not in out and KEY not in out
    assert latest(tmp_path).status == "failed"


def test_a_batch_lookup_that_hangs_is_given_up_after_the_alias_timeout_and_retried(
    tmp_path: Path, srv: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    srv.batch.config.stall_retrievals = 1  # the first lookup answers only after 60 s
    srv.batch.config.stall_s = 60.0
    make_project(tmp_path, srv.base_url, 3, alias={"timeout": 1})
    code, out = llmctl(tmp_path, "eval", "--batch", *POLL, capsys=capsys)
    assert code == 0, out
    assert srv.batch.stalled == 1
    # the client gave up on the stalled lookup after the alias's timeout (5 s at least) and asked
    # again; litellm's own default would have waited for its answer (60 s here, 10 minutes at most)
    first, second = srv.batch.retrieved_at[:2]
    assert second - first < 30, f"the next lookup came {second - first:.0f} s after the one that hung"
    assert all(r[1] is None for r in results(tmp_path, latest(tmp_path).id))
