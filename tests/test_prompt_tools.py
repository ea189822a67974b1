"""Prompt files: tools, tool_choice and output.structured (DESIGN.md, "Tools, structured output")."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.prompt import parse_prompt
from llmctl.sources import WorktreeSource

AGENT = """\
name: agent
tools:
  - name: get_order
    description: Look up an order by id
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
  - type: function
    function: {name: cancel_order, description: Cancel an order}
tool_choice: {name: get_order}
output: {json_schema: {type: object, properties: {answer: {type: string}}}, structured: true}
messages:
  - {role: user, content: "{{ question }}"}
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "agent.yaml").write_text(text, encoding="utf-8")
    return parse_prompt(WorktreeSource(tmp_path), "prompts/agent.yaml")


def test_tools_short_and_full_forms_become_openai_request_params(tmp_path: Path) -> None:
    prompt = load(tmp_path, AGENT)
    params = prompt.request_params()
    assert [t["type"] for t in params["tools"]] == ["function", "function"]
    assert params["tools"][0]["function"] == {
        "name": "get_order",
        "description": "Look up an order by id",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
    }
    assert params["tools"][1]["function"] == {"name": "cancel_order", "description": "Cancel an order"}
    assert params["tool_choice"] == {"type": "function", "function": {"name": "get_order"}}
    assert params["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "agent", "schema": prompt.output_schema, "strict": True},
    }
    assert prompt.tool_schemas()["cancel_order"] == {}


def test_a_tool_description_change_is_a_new_version_and_shows_in_diff(tmp_path: Path) -> None:
    from llmctl.diffing import Version, template_diff

    before = load(tmp_path, AGENT)
    after = load(tmp_path, AGENT.replace("Look up an order by id", "Look up an order"))
    assert before.hash != after.hash
    lines = template_diff(Version.of(before, "agent@a"), Version.of(after, "agent@b"))
    changed = [(ln[0], ln[1:].strip().removeprefix("- ")) for ln in lines[2:] if ln[0] in "+-"]
    assert changed == [("-", "description: Look up an order by id"), ("+", "description: Look up an order")]


def test_without_structured_no_response_format(tmp_path: Path) -> None:
    prompt = load(tmp_path, AGENT.replace(", structured: true", "").replace("tool_choice: {name: get_order}\n", ""))
    assert set(prompt.request_params()) == {"tools"}


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        ("  - name: get_order\n", "  - name: get order\n", "tool name must be", 3),
        ("tool_choice: {name: get_order}", "tool_choice: {name: refund}", "not a declared tool", 8),
        ("tool_choice: {name: get_order}", "tool_choice: sometimes", "'tool_choice' must be", 8),
        ("    parameters: {type: object,", "    parameters: {type: objekt,", "not a valid JSON Schema", 5),
        ("    description: Look up", "    summary: Look up", "unknown key 'summary' in tool", 4),
        ("  - type: function\n", "  - type: retrieval\n", "a full-form tool is", 6),
        ("structured: true", "structured: yes please", "output.structured must be", 9),
        ("cancel_order", "get_order", "declared twice", 7),
    ],
)
def test_malformed_tools_are_input_errors_at_file_line(
    tmp_path: Path, old: str, new: str, message: str, line: int
) -> None:
    assert old in AGENT
    with pytest.raises(InputError, match=message) as info:
        load(tmp_path, AGENT.replace(old, new, 1))
    assert info.value.file == "prompts/agent.yaml" and info.value.line == line


def test_structured_needs_a_schema(tmp_path: Path) -> None:
    text = AGENT.replace(
        "output: {json_schema: {type: object, properties: {answer: {type: string}}}, structured: true}",
        "output: {structured: true}",
    )
    with pytest.raises(InputError, match=r"needs output\.json_schema"):
        load(tmp_path, text)
