"""tool_call, tool_sequence, tool_call_f1, valid_tool_calls, json_path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmctl.errors import InputError
from llmctl.models._response import tool_call
from tests.evaluators.evalkit import inp, make, run


def calls(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [
        tool_call(name, args if isinstance(args, str) else json.dumps(args), f"c{i}")
        for i, (name, args) in enumerate(pairs)
    ]


ORDER = calls(("get_order", {"order_id": "ORD-1001", "verbose": True}))


def test_tool_call_subset_exact_and_wrong_args() -> None:
    assert run(make("tool_call", name="get_order", args={"order_id": "ORD-1001"}), inp("", tool_calls=ORDER)).passed
    bad = run(make("tool_call", name="get_order", args={"order_id": "ORD-9"}), inp("", tool_calls=ORDER))
    assert not bad.passed and "0 call to 'get_order'" in bad.reason and "ORD-1001" in bad.reason
    exact = make("tool_call", name="get_order", args={"order_id": "ORD-1001"}, match="exact")
    assert not run(exact, inp("", tool_calls=ORDER)).passed
    both = make("tool_call", name="get_order", args={"order_id": "ORD-1001", "verbose": True}, match="exact")
    assert run(both, inp("", tool_calls=ORDER)).passed
    assert not run(make("tool_call", name="get_order"), inp("no call")).passed


def test_tool_call_per_argument_tests_and_count() -> None:
    assert run(
        make("tool_call", name="get_order", args={"order_id": {"regex": r"^ORD-\d+$"}}), inp("", tool_calls=ORDER)
    ).passed
    assert run(
        make("tool_call", name="get_order", args={"order_id": {"icontains": "ord-10"}}), inp("", tool_calls=ORDER)
    ).passed
    assert not run(
        make("tool_call", name="get_order", args={"order_id": {"regex": "^X"}}), inp("", tool_calls=ORDER)
    ).passed
    two = calls(("get_order", {"order_id": "A"}), ("get_order", {"order_id": "B"}))
    assert run(make("tool_call", name="get_order", count=2), inp("", tool_calls=two)).passed
    assert not run(make("tool_call", name="get_order", count=1), inp("", tool_calls=two)).passed
    assert run(make("tool_call", name="refund", count=0), inp("", tool_calls=two)).passed


def test_tool_call_not_means_must_not_call() -> None:
    must_not = make("tool_call", name="cancel_order", not_=True)
    assert run(must_not, inp("", tool_calls=ORDER)).passed
    failed = run(must_not, inp("", tool_calls=calls(("cancel_order", {"order_id": "ORD-1"}))))
    assert not failed.passed and failed.reason.startswith("expected not:")


def test_tool_call_schema_match_and_unparsable_arguments() -> None:
    schema = {
        "type": "object",
        "properties": {"order_id": {"type": "string", "pattern": "^ORD-"}},
        "required": ["order_id"],
    }
    ev = make("tool_call", name="get_order", match="schema", schema=schema)
    assert run(ev, inp("", tool_calls=ORDER)).passed
    assert not run(ev, inp("", tool_calls=calls(("get_order", {"order_id": 7})))).passed
    broken = calls(("get_order", '{"order_id": "ORD-1'))
    assert broken[0]["arguments"] is None and broken[0]["raw_arguments"] == '{"order_id": "ORD-1'
    assert not run(ev, inp("", tool_calls=broken)).passed


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"match": "fuzzy"}, "'match' must be one of"),
        ({"match": "schema"}, "needs 'schema'"),
        ({"args": {"x": {"regex": "("}}}, "invalid regex"),
        ({"count": -1}, "'count' must be >= 0"),
    ],
)
def test_tool_call_bad_config_is_input_error(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        make("tool_call", name="t", **config)
    assert info.value.file == "evalsets/t.yaml" and info.value.line == 7


def test_tool_sequence_orders() -> None:
    seq = calls(("search", {}), ("get_order", {}), ("refund", {}))
    assert run(make("tool_sequence", names=["search", "refund"]), inp("", tool_calls=seq)).passed
    assert not run(make("tool_sequence", names=["refund", "search"]), inp("", tool_calls=seq)).passed
    assert run(make("tool_sequence", names=["refund", "search"], order="any"), inp("", tool_calls=seq)).passed
    assert not run(make("tool_sequence", names=["search", "refund"], extra=False), inp("", tool_calls=seq)).passed
    assert run(
        make("tool_sequence", names=["search", "get_order", "refund"], extra=False), inp("", tool_calls=seq)
    ).passed
    assert not run(
        make("tool_sequence", names=["refund", "search"], order="any", extra=False), inp("", tool_calls=seq)
    ).passed


def test_tool_call_f1_against_expected_tool_calls() -> None:
    expected = [
        {"name": "get_order", "args": {"order_id": "ORD-1001", "verbose": True}},
        {"name": "refund", "args": {}},
    ]
    r = run(make("tool_call_f1", threshold=0.5), inp("", tool_calls=ORDER, expected_tool_calls=expected))
    assert r.score == pytest.approx(2 / 3) and r.passed  # precision 1, recall 1/2
    wrong_args = calls(("get_order", {"order_id": "X"}))
    assert run(make("tool_call_f1"), inp("", tool_calls=wrong_args, expected_tool_calls=expected[:1])).score == 0.0
    names_only = make("tool_call_f1", args=False)
    assert run(names_only, inp("", tool_calls=wrong_args, expected_tool_calls=expected[:1])).score == 1.0
    assert run(make("tool_call_f1"), inp("", tool_calls=ORDER)).error  # nothing to compare against


def test_valid_tool_calls() -> None:
    tools = {"get_order": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}
    assert run(make("valid_tool_calls"), inp("", tool_calls=ORDER, tools=tools)).passed
    undeclared = run(make("valid_tool_calls"), inp("", tool_calls=calls(("delete_all", {})), tools=tools))
    assert not undeclared.passed and "undeclared tool 'delete_all'" in undeclared.reason
    invalid = run(make("valid_tool_calls"), inp("", tool_calls=calls(("get_order", {"order_id": 3})), tools=tools))
    assert not invalid.passed and "order_id" in invalid.reason
    assert not run(make("valid_tool_calls"), inp("", tool_calls=calls(("get_order", "{not json")), tools=tools)).passed
    assert run(make("valid_tool_calls"), inp("", tool_calls=ORDER)).error  # the prompt declares no tools


def test_json_path() -> None:
    out = json.dumps({"items": [{"sku": "A-1", "qty": 2}], "total": 9.5, "odd key": True})
    assert run(make("json_path", path="$.items[0].sku", equals="A-1"), inp(out)).passed
    assert not run(make("json_path", path="$.items[0].sku", equals="B"), inp(out)).passed
    assert run(make("json_path", path="$.items[*].qty", equals=2), inp(out)).passed
    assert run(make("json_path", path="$['odd key']", equals=True), inp(out)).passed
    assert run(make("json_path", path="$.total", regex=r"^9\.5$"), inp(out)).passed
    assert run(make("json_path", path="$.items[3]", exists=False), inp(out)).passed
    assert not run(make("json_path", path="$.missing", equals=1), inp(out)).passed
    assert not run(make("json_path", path="$.total", exists=True), inp("not json")).passed
    with pytest.raises(InputError, match="invalid path"):
        make("json_path", path="items", exists=True)
    with pytest.raises(InputError, match="exactly one of"):
        make("json_path", path="$.a")


def test_scope_final_transcript_and_turn() -> None:
    turns = [
        {"output": "Let me look.", "tool_calls": calls(("get_order", {"order_id": "A"}))},
        {"output": "", "tool_calls": calls(("cancel_order", {"order_id": "A"}))},
        {"output": "Cancelled.", "tool_calls": None},
    ]
    everything = inp("Cancelled.", tool_calls=[c for t in turns for c in t["tool_calls"] or ()], turns=turns)
    assert run(make("tool_call", name="get_order"), everything).passed  # no scope: every call of the loop
    assert not run(make("tool_call", name="get_order", scope="final"), everything).passed
    assert run(make("tool_call", name="cancel_order", scope="turn:2"), everything).passed
    assert not run(make("icontains", value="look", scope="final"), everything).passed
    assert run(make("icontains", value="look", scope="transcript"), everything).passed
    assert run(make("equals", value="Let me look.", scope="turn:1"), everything).passed
    assert "has 3 turn(s)" in (run(make("icontains", value="x", scope="turn:4"), everything).error or "")
    assert run(make("icontains", value="plain", scope="turn:1"), inp("plain answer")).passed  # no loop: one turn
    with pytest.raises(InputError, match="'scope' must be"):
        make("icontains", value="x", scope="turn:0")
