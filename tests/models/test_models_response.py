"""llmctl.models._response: every payload shape ends as one Completion or one AttemptError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmctl.models._errors import AttemptError
from llmctl.models._litellm import _clean
from llmctl.models._response import MAX_TOKENS, StreamReader, Usage, clean_text, parse_body, parse_completion


def _payload(content: Any, usage: Any = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
    if usage is not None:
        data["usage"] = usage
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("content", "output", "warned"),
    [
        ("plain", "plain", False),
        (None, "", False),
        ([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "ab", False),
        (["a", {"type": "output_text", "text": "b"}], "ab", False),
        ([{"type": "reasoning", "text": "hm"}, {"type": "image_url", "image_url": {}}, {"text": "x"}], "x", False),
        ([{"type": "text", "text": {"value": "v"}}], "v", False),
        ([], "", False),
        ({"type": "text", "text": "one part"}, "one part", False),
        (42, "42", True),
        (1.5, "1.5", True),
        (True, "true", True),
        ({"a": 1}, '{"a": 1}', True),
    ],
)
def test_content_shapes(content: Any, output: str, warned: bool) -> None:
    completion = parse_completion(_payload(content))
    assert completion.output == output
    assert bool(completion.warnings) is warned
    assert completion.parts == (content if isinstance(content, list) else None)


def test_content_parts_are_kept_whole() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}]
    assert parse_completion(_payload(parts)).parts == parts


@pytest.mark.parametrize(
    ("usage", "expected", "warnings"),
    [
        ({"prompt_tokens": 3, "completion_tokens": 4}, Usage(3, 4), 0),
        ({"prompt_tokens": 3}, Usage(3, None), 0),
        ({"prompt_tokens": -1, "completion_tokens": 4}, Usage(None, 4), 1),
        ({"prompt_tokens": 10**30, "completion_tokens": MAX_TOKENS + 1}, Usage(None, None), 2),
        ({"prompt_tokens": 1.5, "completion_tokens": "7"}, Usage(None, None), 2),
        ({"prompt_tokens": True, "completion_tokens": [1]}, Usage(None, None), 2),
        ([1, 2], Usage(None, None), 1),
        ("lots", Usage(None, None), 1),
        (7, Usage(None, None), 1),
        ({}, None, 0),  # nothing to read: the client estimates
        ({"total_tokens": 9}, None, 0),
    ],
)
def test_usage_shapes(usage: Any, expected: Usage | None, warnings: int) -> None:
    completion = parse_completion(_payload("x", usage))
    assert completion.usage == expected
    assert len(completion.warnings) == warnings


def test_no_usage_means_estimate() -> None:
    assert parse_completion(_payload("x")).usage is None
    assert parse_completion(_payload("x", usage=None) | {"usage": None}).usage is None


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        7,
        None,
        {},
        {"choices": []},
        {"choices": "nope"},
        {"choices": [7]},
        {"choices": [{"message": "hi"}]},
        {"choices": [{"delta": {"content": "x"}}]},
        {"error": {"message": "overloaded"}},
    ],
)
def test_unparseable_payloads_are_one_attempt_error(payload: Any) -> None:
    with pytest.raises(AttemptError) as err:
        parse_completion(payload, provider="p")
    assert "\n" not in err.value.message
    if isinstance(payload, dict) and "error" in payload:
        assert "overloaded" in err.value.message


def test_text_completion_shape_is_read() -> None:
    assert parse_completion({"choices": [{"text": "legacy"}]}).output == "legacy"


def test_lone_surrogates_are_replaced() -> None:
    raw = b'{"choices":[{"message":{"content":"a \\ud800 b"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}'
    completion = parse_body(raw, "p")
    assert completion.output == "a \ufffd b"
    completion.output.encode("utf-8")  # storable
    parts = json.loads('[{"type": "text", "text": "\\udfff"}]')
    assert parse_completion(_payload(parts)).output == "\ufffd"
    assert clean_text("ok") == "ok"


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"choices": [', b"\xff\xfe", b"[" * 100_000])
def test_bodies_that_are_not_json_are_retryable(raw: bytes) -> None:
    with pytest.raises(AttemptError) as err:
        parse_body(raw, "p")
    assert err.value.retryable
    assert "malformed response from p" in err.value.message


def test_stream_reader_takes_any_chunk_shape() -> None:
    reader = StreamReader()
    assert reader.add({"choices": [{"delta": {"content": "a"}}]})
    assert reader.add({"choices": [{"delta": {"content": [{"type": "text", "text": "b"}]}}]})
    assert not reader.add({"choices": [{"delta": {}}, "junk", {"delta": "junk"}]})
    assert not reader.add({"choices": "junk"})
    assert not reader.add({"choices": [], "usage": {"prompt_tokens": -3, "completion_tokens": 2}})
    completion = reader.result()
    assert completion.output == "ab"
    assert completion.usage == Usage(None, 2)
    assert completion.warnings
    with pytest.raises(AttemptError):
        StreamReader().add([1])
    with pytest.raises(AttemptError, match="stream error: boom"):
        StreamReader().add({"error": {"message": "boom"}})


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "litellm.APIConnectionError: APIConnectionError: OpenAIException - Traceback (most recent call last):\n"
            '  File "/home/ci/.venv/lib/python3.11/site-packages/litellm/main.py", line 12, in acompletion\n'
            "    raise ValueError(x)\n"
            "ValueError: bad thing in /home/ci/work/x.py",
            "ValueError: bad thing in <path>",
        ),
        (
            "litellm.APIError: APIError: OpenAIException - Connection error to http://127.0.0.1:8/v1/chat/completions",
            "Connection error to http://127.0.0.1:8/v1/chat/completions",
        ),
        (
            'Invalid response object Traceback (most recent call last):\n  File "/a/b.py", line 1\nKeyError: 1',
            "Invalid response object",
        ),
        ("litellm.BadRequestError: OpenAIException - bad model\nsee the docs", "bad model see the docs"),
    ],
)
def test_litellm_errors_are_one_clean_line(message: str, expected: str) -> None:
    cleaned = _clean(message)
    assert cleaned == expected
    assert "Traceback" not in cleaned and "\n" not in cleaned and "/home/" not in cleaned


def test_litellm_error_length_is_capped() -> None:
    assert len(_clean("x" * 10_000)) <= 500


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["choices", "message", "content", "usage", "prompt_tokens", "completion_tokens", "text", "type", "delta", "error"]
)
_shaped = st.recursive(
    _json,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(payload=_shaped)
def test_any_payload_is_a_completion_or_one_attempt_error(payload: Any) -> None:
    try:
        completion = parse_completion(payload)
    except AttemptError:
        return
    completion.output.encode("utf-8")  # always storable text
    usage = completion.usage
    if usage is not None:
        for count in (usage.prompt_tokens, usage.completion_tokens):
            assert count is None or (type(count) is int and 0 <= count <= MAX_TOKENS)


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(_shaped, max_size=5))
def test_any_stream_is_a_completion_or_one_attempt_error(chunks: list[Any]) -> None:
    reader = StreamReader()
    try:
        for chunk in chunks:
            reader.add(chunk)
    except AttemptError:
        return
    reader.result().output.encode("utf-8")


def test_tool_calls_and_finish_reason_are_kept() -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": '{"order_id": "A"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "refund", "arguments": "{broken"}},
        {"id": "call_3", "type": "function", "function": {"name": "ping", "arguments": {"n": 1}}},
        {"type": "function", "function": {"arguments": "{}"}},  # no name: dropped with a warning
    ]
    payload = {"choices": [{"message": {"content": None, "tool_calls": calls}, "finish_reason": "tool_calls"}]}
    completion = parse_completion(payload)
    assert completion.output == "" and completion.finish_reason == "tool_calls"
    assert completion.tool_calls == [
        {"id": "call_1", "name": "get_order", "arguments": {"order_id": "A"}, "raw_arguments": '{"order_id": "A"}'},
        {"id": "call_2", "name": "refund", "arguments": None, "raw_arguments": "{broken"},
        {"id": "call_3", "name": "ping", "arguments": {"n": 1}, "raw_arguments": '{"n": 1}'},
    ]
    assert completion.warnings == ["a tool call without a function name was ignored"]


def test_legacy_function_call_and_odd_tool_calls() -> None:
    legacy = {"choices": [{"message": {"content": "", "function_call": {"name": "f", "arguments": "{}"}}}]}
    assert parse_completion(legacy).tool_calls == [{"id": None, "name": "f", "arguments": {}, "raw_arguments": "{}"}]
    odd = parse_completion({"choices": [{"message": {"content": "x", "tool_calls": "nope"}, "finish_reason": 3}]})
    assert odd.tool_calls is None and odd.finish_reason is None and odd.warnings


def test_streamed_tool_calls_are_assembled_from_indexed_deltas() -> None:
    reader = StreamReader()
    head = {"index": 0, "id": "call_9", "type": "function", "function": {"name": "get_order", "arguments": ""}}
    chunks = [
        {"choices": [{"delta": {"role": "assistant", "tool_calls": [head]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"order_'}}]}}]},
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'id": "B"}'}}]}}]},
        {"choices": [{"delta": {}, "finish_reason": "tool_calls"}]},
    ]
    assert [reader.add(c) for c in chunks] == [True, True, True, False]
    completion = reader.result()
    assert completion.finish_reason == "tool_calls" and reader.has_data
    assert completion.tool_calls == [
        {"id": "call_9", "name": "get_order", "arguments": {"order_id": "B"}, "raw_arguments": '{"order_id": "B"}'}
    ]
