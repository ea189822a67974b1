"""A tool call whose arguments are nested ~1,000 deep is one case error, never a lost run (issue 22, item 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, llmctl, write
from tests.reliability.helpers import store

N = 20
DEEP = '{"a":' * 1000 + "1" + "}" * 1000


def _tool_body(arguments: str) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": arguments}}
    return {
        "id": "chatcmpl-deep",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }


def _project(root: Path, base_url: str) -> None:
    cases = [{"id": "deep", "vars": {"question": "deep marker"}}]
    cases += [{"id": f"case-{i:03d}", "vars": {"question": f"question number {i}"}} for i in range(N)]
    write(
        root,
        {
            "llmctl.yaml": config(base_url, retries=0, concurrency=4),
            "prompts/qa.yaml": {
                "inputs": {"question": {"type": "string"}},
                "tools": [
                    {
                        "name": "get_order",
                        "description": "Look up an order",
                        "parameters": {"type": "object", "properties": {"a": {}}},
                    }
                ],
                "messages": [{"role": "user", "content": "{{ question }}"}],
            },
            "evalsets/qa.yaml": {
                "prompt": "qa",
                "models": ["fake"],
                "evaluators": [{"type": "icontains", "value": "yes"}, {"type": "valid_tool_calls"}],
                "cases": cases,
            },
        },
    )


@pytest.mark.parametrize("transport", ["native", pytest.param("litellm", marks=pytest.mark.slow)])
def test_deeply_nested_tool_arguments_are_one_case_error_and_resume_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("LLMCTL_TRANSPORT", transport)
    with FakeOpenAIServer(responses={"question": "yes"}, bodies={"deep marker": _tool_body(DEEP)}) as srv:
        _project(tmp_path, srv.base_url)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert code == 3, out[-3000:]
        assert "Traceback" not in out and "internal error" not in out and "RecursionError" not in out
        run = store(tmp_path).list_runs()[0]
        assert run.status == "completed"
        rows = dict(store(tmp_path).query("SELECT case_id, error FROM results WHERE run_id = $r", {"r": run.id}))
        assert len(rows) == N + 1
        assert all(rows[f"case-{i:03d}"] is None for i in range(N))
        assert rows["deep"]  # litellm refuses the body itself ("Invalid response object")
        if transport == "native":
            assert "nested deeper than 64 levels (1000)" in rows["deep"]
        code, out = llmctl(tmp_path, "eval", "--resume", run.id, capsys=capsys)
        assert code == 3, out[-3000:]
        assert "Traceback" not in out and "internal error" not in out
        assert store(tmp_path).list_runs()[0].status == "completed"


def test_store_json_column_never_raises_on_deep_values() -> None:
    from llmctl.store._writer import to_json

    deep_obj: Any = 1
    for _ in range(5000):
        deep_obj = {"a": deep_obj}
    for value in (DEEP, "[" * 100_000 + "]" * 100_000, deep_obj, [deep_obj]):
        text = to_json(value)
        assert isinstance(text, str)
