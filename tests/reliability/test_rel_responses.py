"""No response shape loses a run: every case ends as one stored result, and --resume calls
only the cases that did not succeed (issue 10, defect 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, llmctl, prompt, write
from tests.reliability.helpers import store

GOOD = 400


def _completion(content: Any, usage: Any = "default") -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "chatcmpl-odd",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }
    if usage == "default":
        usage = {"prompt_tokens": 5, "completion_tokens": 1}
    if usage is not None:
        data["usage"] = usage
    return data


# case id -> the 200 body the server sends for it
BODIES: dict[str, Any] = {
    "shape-parts": _completion(
        [{"type": "text", "text": "yes, "}, {"type": "image_url"}, {"type": "text", "text": "in parts"}]
    ),
    "shape-number": _completion(42),
    "shape-object": _completion({"answer": "yes"}),
    "shape-null": _completion(None),
    "usage-huge": _completion("yes", {"prompt_tokens": 10**30, "completion_tokens": 1}),
    "usage-negative": _completion("yes", {"prompt_tokens": -5, "completion_tokens": -1}),
    "usage-string": _completion("yes", {"prompt_tokens": "ten", "completion_tokens": 2.5}),
    "usage-list": _completion("yes", [1, 2]),
    "surrogate": '{"choices":[{"message":{"role":"assistant","content":"yes \\ud800 x"}}],'
    '"usage":{"prompt_tokens":1,"completion_tokens":2}}',
    "no-choices": {"object": "chat.completion", "choices": "none"},
    "error-200": {"error": {"message": "upstream overloaded"}},
    "not-json": b"\x00\xffgarbage",
}
UNPARSEABLE = {"no-choices", "error-200", "not-json"}


def _project(root: Path, base_url: str) -> None:
    cases = [{"id": k, "vars": {"question": f"odd {k} marker"}} for k in BODIES]
    cases += [{"id": f"case-{i:03d}", "vars": {"question": f"question number {i}"}} for i in range(GOOD)]
    write(
        root,
        {
            "llmctl.yaml": config(base_url, retries=1, concurrency=16),
            "prompts/qa.yaml": prompt("Answer briefly."),
            "evalsets/qa.yaml": {
                "prompt": "qa",
                "models": ["fake"],
                "evaluators": [{"type": "icontains", "value": "yes"}],
                "cases": cases,
            },
        },
    )


def _rows(root: Path, run_id: str) -> dict[str, tuple[Any, ...]]:
    rows = store(root).query(
        "SELECT case_id, output, error, prompt_tokens, completion_tokens FROM results WHERE run_id = $r", {"r": run_id}
    )
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == len(BODIES) + GOOD, "one stored result per case"
    return {r[0]: r[1:] for r in rows}


@pytest.mark.parametrize("transport", ["native", pytest.param("litellm", marks=pytest.mark.slow)])
def test_odd_responses_end_as_one_result_each_and_resume_calls_only_failures(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    transport: str,
) -> None:
    monkeypatch.setenv("LLMCTL_TRANSPORT", transport)
    bodies = {f"odd {k} marker": v for k, v in BODIES.items()}
    with FakeOpenAIServer(responses={"question": "yes"}, bodies=bodies) as srv:
        _project(tmp_path, srv.base_url)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert code == 3, out[-3000:]  # the unparseable ones are errors; nothing else is lost
        assert "Traceback" not in out and "internal error" not in out
        run = store(tmp_path).list_runs()[0]
        assert run.status == "completed"
        rows = _rows(tmp_path, run.id)
        good = [rows[f"case-{i:03d}"] for i in range(GOOD)]
        assert all(r[0] == "yes" and r[1] is None for r in good)
        for case in UNPARSEABLE:
            assert rows[case][0] is None and rows[case][1], case
            assert "\n" not in rows[case][1] and "Traceback" not in rows[case][1]
        assert rows["error-200"][1] is not None and "overloaded" in rows["error-200"][1]
        # both paths: impossible token counts are unknown, a lone surrogate is replaced
        assert rows["usage-huge"][2] is None and rows["usage-negative"][2:4] == (None, None)
        assert rows["surrogate"][0] == "yes \ufffd x"
        if transport == "native":  # litellm refuses some of these shapes itself (a per-case error)
            assert rows["shape-parts"][0] == "yes, in parts"
            assert rows["shape-number"][0] == "42"
            assert rows["shape-object"][0] == '{"answer": "yes"}'
            assert rows["shape-null"][0] == ""
            assert rows["usage-string"][:4] == ("yes", None, None, None)
            assert rows["usage-list"][2:4] == (None, None)
            warned = caplog.text  # logged to stderr, once per model and kind
            assert "usage.prompt_tokens was -5, not a token count; stored as unknown" in warned
            assert "the answer's content was the number 42" in warned
            assert warned.count("was -5") == 1
        errors = {k for k, r in rows.items() if r[1] is not None}
        assert errors >= UNPARSEABLE and all(k in BODIES for k in errors)
        # --resume calls exactly the cases without a result, and the run stays whole
        before = srv.requests
        code, out = llmctl(tmp_path, "eval", "--resume", run.id, capsys=capsys)
        assert code == 3, out[-3000:]
        assert len(errors) <= srv.requests - before <= 2 * len(errors)  # retries: 1
        assert all(srv.requests_for(f"question number {i}") == 1 for i in range(GOOD))  # never called again
        assert _rows(tmp_path, run.id).keys() == rows.keys()
