"""Tool calls and structured output end to end, on both transports, against the local server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, init_repo, llmctl, write

N_CASES = 20
GOOD = "Look up an order by its id"


def agent_prompt(description: str = GOOD) -> dict[str, Any]:
    return {
        "inputs": {"question": {"type": "string"}},
        "tools": [
            {
                "name": "get_order",
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": {"type": "string"}},
                    "required": ["order_id"],
                },
            },
            {"type": "function", "function": {"name": "cancel_order", "description": "Cancel an order"}},
        ],
        "tool_choice": "auto",
        "messages": [
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": "{{ question }}"},
        ],
    }


def responses() -> dict[str, Any]:
    """With the good description every case extracts the id; without it odd cases lose the prefix."""
    out: dict[str, Any] = {}
    for i in range(N_CASES):
        out[f"ORD-{i}? && {GOOD}"] = {"tool_calls": [{"name": "get_order", "args": {"order_id": f"ORD-{i}"}}]}
    for i in range(N_CASES):
        oid = f"ORD-{i}" if i % 2 == 0 else str(i)
        out[f"ORD-{i}?"] = {"tool_calls": [{"name": "get_order", "args": {"order_id": oid}}]}
    out["cancel ORD-77"] = {
        "content": "Done.",
        "tool_calls": [{"name": "cancel_order", "args": {"order_id": "ORD-77"}}],
    }
    out["Which item"] = json.dumps({"items": [{"sku": "A-1"}]})
    return out


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


@pytest.fixture(params=["native", "litellm"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LLMCTL_TRANSPORT", request.param)
    return str(request.param)


@pytest.fixture()
def server():
    with FakeOpenAIServer(responses=responses(), default="I cannot help.") as srv:
        yield srv


def project(root: Path, server: FakeOpenAIServer, cases: list[dict[str, Any]], **prompt_extra: Any) -> None:
    write(
        root,
        {
            "llmctl.yaml": config(server.base_url, gate={"quality": {"max_drop": 0.05}}),
            "prompts/agent.yaml": {**agent_prompt(), **prompt_extra},
            "evalsets/agent.yaml": {"prompt": "agent", "models": ["fake"], "cases": cases},
        },
    )


def order_cases() -> list[dict[str, Any]]:
    return [
        {
            "id": f"order-{i}",
            "vars": {"question": f"Where is order ORD-{i}?"},
            "expected_tool_calls": [{"name": "get_order", "args": {"order_id": f"ORD-{i}"}}],
            "assert": [
                {"type": "tool_call", "name": "get_order", "args": {"order_id": f"ORD-{i}"}},
                {"type": "valid_tool_calls"},
                {"type": "tool_call_f1"},
            ],
        }
        for i in range(N_CASES)
    ]


def test_a_tool_description_change_that_breaks_argument_extraction_fails_the_gate(
    tmp_path: Path, server: FakeOpenAIServer, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, server, order_cases())
    init_repo(tmp_path)
    write(tmp_path, {"prompts/agent.yaml": agent_prompt("Look up an order")})
    code, out = llmctl(tmp_path, "eval", "--baseline", "main", capsys=capsys)
    assert code == 1, out
    assert "gate FAILED" in out
    assert "order-1" in out and "order-3" in out
    assert '-> get_order({"order_id": "1"})' in out  # the flipped case shows its tool calls
    sent = server.last_request or {}
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_order", "cancel_order"]
    assert sent["tool_choice"] == "auto"
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    rows = store.query(
        "SELECT case_id, output, tool_calls, finish_reason FROM results WHERE run_id = ? ORDER BY case_id",
        [store.list_runs()[0].id],
    )
    assert len(rows) == N_CASES
    case_id, output, calls, finish = rows[1]
    assert case_id == "order-1" and output == "" and finish == "tool_calls"
    (call,) = json.loads(calls)
    assert call["name"] == "get_order" and call["arguments"] == {"order_id": "1"}
    assert call["raw_arguments"] == '{"order_id": "1"}' and call["id"]


def test_must_not_call_fails_when_the_model_calls_the_tool(
    tmp_path: Path, server: FakeOpenAIServer, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        {"id": id_, "vars": {"question": q}, "assert": [{"type": "tool_call", "name": "cancel_order", "not": True}]}
        for id_, q in (("cancels", "Please cancel ORD-77"), ("looks-up", "Where is order ORD-2?"))
    ]
    project(tmp_path, server, cases)
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code in (0, 1), out
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    rows = dict(store.query("SELECT case_id, passed FROM results ORDER BY case_id"))
    assert rows == {"cancels": False, "looks-up": True}, out
    reasons = store.query(
        "SELECT reason FROM scores s JOIN results r USING (run_id, result_key) WHERE case_id = 'cancels'"
    )
    assert "cancel_order" in reasons[0][0]


def test_structured_output_is_sent_as_response_format_and_checked_by_json_path(
    tmp_path: Path, server: FakeOpenAIServer, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array"}}, "required": ["items"]}
    cases = [
        {
            "id": "sku",
            "vars": {"question": "Which item did I buy?"},
            "assert": [
                {"type": "json_path", "path": "$.items[0].sku", "equals": "A-1"},
                {"type": "json_path", "path": "$.items[1]", "exists": True, "not": True},
            ],
        }
    ]
    project(tmp_path, server, cases, output={"json_schema": schema, "structured": True})
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    sent = server.last_request or {}
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "agent", "schema": schema, "strict": True},
    }


def test_streamed_tool_calls_are_stored(
    tmp_path: Path, server: FakeOpenAIServer, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, server, order_cases()[:2])
    cfg = config(server.base_url)
    cfg["models"]["fake"]["stream"] = True
    write(tmp_path, {"llmctl.yaml": cfg})
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    calls = [json.loads(c) for (c,) in store.query("SELECT tool_calls FROM results ORDER BY case_id")]
    assert [c[0]["arguments"] for c in calls] == [{"order_id": "ORD-0"}, {"order_id": "ORD-1"}]


def test_malformed_tool_definition_is_exit_2_at_file_line(
    tmp_path: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, server, order_cases()[:1])
    text = (tmp_path / "prompts/agent.yaml").read_text().replace("name: get_order", "name: get order", 1)
    write(tmp_path, {"prompts/agent.yaml": text})
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "get order" in ln)
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 2, out
    assert f"prompts/agent.yaml:{line}" in out and "tool name" in out
    assert server.requests == 0


def test_a_three_turn_agent_loop_stores_every_turn_and_its_cost(
    tmp_path: Path, server: FakeOpenAIServer, transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    server.configure(
        responses={
            '"status": "shipped"': {"tool_calls": [{"name": "cancel_order", "args": {"order_id": "ORD-5"}}]},
            '"cancelled": true': "Your order ORD-5 has been cancelled.",
            "ORD-5": {"tool_calls": [{"name": "get_order", "args": {"order_id": "ORD-5"}}]},
        }
    )
    cases = [
        {
            "id": "cancel-flow",
            "vars": {"question": "Please cancel ORD-5"},
            "messages": [
                {"role": "assistant", "content": "Which order?"},
                {"role": "user", "content": "The one I asked about: ORD-5"},
            ],
            "tool_results": {"get_order": {"status": "shipped"}, "cancel_order": {"cancelled": True}},
            "max_turns": 3,
            "assert": [
                {"type": "tool_sequence", "names": ["get_order", "cancel_order"], "extra": False},
                {"type": "icontains", "value": "cancelled"},
            ],
        }
    ]
    project(tmp_path, server, cases)
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    ((output, turns, calls, cost, finish),) = store.query(
        "SELECT output, turns, tool_calls, cost_usd, finish_reason FROM results"
    )
    turns = json.loads(turns)
    assert output == "Your order ORD-5 has been cancelled." and finish == "stop"
    assert [t["finish_reason"] for t in turns] == ["tool_calls", "tool_calls", "stop"]
    assert [c["name"] for c in json.loads(calls)] == ["get_order", "cancel_order"]
    assert all(t["cost_usd"] > 0 for t in turns) and cost == pytest.approx(sum(t["cost_usd"] for t in turns))
    last = server.last_request or {}
    roles = [m["role"] for m in last["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "tool", "assistant", "tool"]
    assert last["messages"][-1]["tool_call_id"] and json.loads(last["messages"][-1]["content"]) == {"cancelled": True}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("tool_results", "shipped", "'tool_results' must be a mapping"),
        ("tool_results", {"get_order": {"error": 3}}, "a failed tool result is"),
        ("max_turns", 0, "'max_turns' must be a whole number"),
        ("messages", [{"role": "robot", "content": "hi"}], "each case message needs a role"),
    ],
)
def test_malformed_conversation_fields_are_exit_2_at_file_line(
    tmp_path: Path, server: FakeOpenAIServer, key: str, value: Any, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project(tmp_path, server, [{"id": "c", "vars": {"question": "q"}, key: value}])
    text = (tmp_path / "evalsets/agent.yaml").read_text()
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith(f"{key}:"))
    line += key == "messages"  # the message item itself
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 2, out
    assert message in out and f"evalsets/agent.yaml:{line}" in out


def test_cached_results_keep_their_tool_calls_and_turns(
    tmp_path: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.configure(
        responses={
            '"status": "shipped"': "It has shipped.",
            '"status": "lost"': "It is lost.",
            "ORD-5": {"tool_calls": [{"name": "get_order", "args": {"order_id": "ORD-5"}}]},
        }
    )
    case = {
        "id": "loop",
        "vars": {"question": "Where is ORD-5?"},
        "tool_results": {"get_order": {"status": "shipped"}},
        "max_turns": 2,
        "assert": [{"type": "tool_call", "name": "get_order", "args": {"order_id": "ORD-5"}}],
    }
    project(tmp_path, server, [case])
    assert llmctl(tmp_path, "eval", capsys=capsys)[0] == 0
    assert server.requests == 2
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0 and server.requests == 2, out  # all from the cache
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    cached, calls, turns, output = store.query(
        "SELECT cached, tool_calls, turns, output FROM results WHERE run_id = ?", [store.list_runs()[0].id]
    )[0]
    assert cached and json.loads(calls)[0]["name"] == "get_order" and len(json.loads(turns)) == 2
    assert output == "It has shipped."
    # other tool results are another request: not answered from the cache
    write(tmp_path, {"evalsets/agent.yaml": {"prompt": "agent", "models": ["fake"], "cases": [
        {**case, "tool_results": {"get_order": {"status": "lost"}}}
    ]}})  # fmt: skip
    assert llmctl(tmp_path, "eval", capsys=capsys)[0] == 0
    assert server.requests == 4


def test_scripted_user_turns_run_a_multi_turn_conversation_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = {
        "model": "scripted",
        "responses": {
            "ORD-8": {"tool_calls": [{"name": "get_order", "args": {"order_id": "ORD-8"}}]},
            '"status": "late"': "ORD-8 is late, sorry.",
            "refund": "A refund for ORD-8 is on its way.",
        },
        "default": "Hello! How can I help?",
    }
    write(
        tmp_path,
        {
            "llmctl.yaml": {**config(), "models": {"bot": bot}, "default_models": ["bot"]},
            "prompts/agent.yaml": agent_prompt(),
            "evalsets/agent.yaml": {
                "prompt": "agent",
                "models": ["bot"],
                "cases": [
                    {
                        "id": "chat",
                        "vars": {"question": "Hi"},
                        "turns": ["Where is ORD-8?", "Then I want a refund."],
                        "tool_results": {"get_order": {"status": "late"}},
                        "max_turns": 2,
                        "assert": [
                            {"type": "icontains", "value": "refund", "scope": "final"},
                            {"type": "equals", "value": "Hello! How can I help?", "scope": "turn:1"},
                            {"type": "icontains", "value": "late", "scope": "transcript"},
                            {"type": "tool_call", "name": "get_order", "scope": "turn:2"},
                        ],
                    }
                ],
            },
        },
    )
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    ((turns,),) = store.query("SELECT turns FROM results")
    turns = json.loads(turns)
    assert [(t["user_turn"], t["output"]) for t in turns] == [
        (0, "Hello! How can I help?"),
        (1, ""),
        (1, "ORD-8 is late, sorry."),
        (2, "A refund for ORD-8 is on its way."),
    ]
