"""Agent loops: stored tool calls and transcripts are capped (the cut said), and the request sent
back to the model is bounded (issue 22, item 10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmctl.run import _limits
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, llmctl, write
from tests.reliability.helpers import store

BLOB = 60_000  # characters of one tool call's argument text


def _project(root: Path, base_url: str) -> None:
    write(
        root,
        {
            "llmctl.yaml": config(base_url, retries=0),
            "prompts/agent.yaml": {
                "inputs": {"question": {"type": "string"}},
                "tools": [{"name": "store_blob", "description": "Store it", "parameters": {"type": "object"}}],
                "messages": [{"role": "user", "content": "{{ question }}"}],
            },
            "evalsets/agent.yaml": {
                "prompt": "agent",
                "models": ["fake"],
                "evaluators": [{"type": "valid_tool_calls"}],
                "cases": [
                    {
                        "id": "big",
                        "vars": {"question": "store the blob"},
                        "tool_results": {"store_blob": {"ok": True}},
                        "max_turns": 10,
                    },
                    {"id": "small", "vars": {"question": "store a tiny blob"}, "max_turns": 1},
                ],
            },
        },
    )


def test_stored_calls_and_turns_are_capped_and_the_request_is_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setattr(_limits, "MAX_CALL_ARGUMENTS", 10_000)
    monkeypatch.setattr(_limits, "MAX_TRANSCRIPT", 50_000)
    monkeypatch.setattr(_limits, "MAX_REQUEST", 200_000)
    call = {"tool_calls": [{"name": "store_blob", "args": {"blob": "x" * BLOB}}]}
    with FakeOpenAIServer(responses={"store the blob": call, "tiny": call, '{"ok": true}': call}) as srv:
        _project(tmp_path, srv.base_url)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert code == 3 and "Traceback" not in out, out[-2000:]  # the stopped loop is the case's error
        sent = srv.requests
    run = store(tmp_path).list_runs()[0]
    rows = {
        r[0]: r[1:]
        for r in store(tmp_path).query(
            "SELECT case_id, error, tool_calls, turns FROM results WHERE run_id = $r", {"r": run.id}
        )
    }
    error, calls, turns = rows["big"]
    # 60k per answer sent back: the 5th request would carry 4 x 60k > 200k, so the loop stops after 4 calls
    assert sent == 4 + 1, sent
    assert error is not None and "agent loop stopped after 4 call(s)" in error and "200,000" in error
    calls = json.loads(calls) if isinstance(calls, str) else calls
    assert len(calls) == 4
    for c in calls:
        assert len(c["raw_arguments"]) == 10_000 and c["arguments"] is None
        assert "cut to the first 10,000 of 60,012 characters" in c["cut"]
    turns = json.loads(turns) if isinstance(turns, str) else turns
    assert len(turns) == 4 and all(len(t["tool_calls"][0]["raw_arguments"]) == 10_000 for t in turns)
    # a single call (no loop) is capped the same way
    small_error, small_calls, _ = rows["small"]
    small: list[dict[str, Any]] = json.loads(small_calls) if isinstance(small_calls, str) else small_calls
    assert small_error is None and small[0]["cut"] and len(small[0]["raw_arguments"]) == 10_000


def test_turn_outputs_share_one_transcript_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_limits, "MAX_TRANSCRIPT", 100)
    turns = [{"output": "a" * 70, "tool_calls": None}, {"output": "b" * 70}, {"output": "c" * 10}]
    capped = _limits.cap_turns(turns)
    assert capped is not None
    assert [len(t["output"]) for t in capped] == [70, 30, 0]
    assert "cut" not in capped[0] and "first 30 of 70" in capped[1]["cut"] and "first 0 of 10" in capped[2]["cut"]
    assert turns[1]["output"] == "b" * 70  # the input is not changed
