"""The batch engine's pieces: splitting at the provider's limits, what cannot be batched, request bodies."""

from __future__ import annotations

import pytest

from llmctl.batch import batch_refusal
from llmctl.batch._engine import _reason, endpoint_for, request_body, split_lines
from llmctl.errors import InputError
from llmctl.types import ModelSpec


def test_split_at_request_count_and_bytes() -> None:
    lines = [b"x" * 10 for _ in range(7)]
    assert [len(c) for c in split_lines(lines, max_requests=3, max_bytes=10_000)] == [3, 3, 1]
    # 11 bytes a line (with its newline): 3 lines fit in 33 bytes, not in 32
    assert [len(c) for c in split_lines(lines, max_requests=100, max_bytes=32)] == [2, 2, 2, 1]
    assert [len(c) for c in split_lines(lines, max_requests=100, max_bytes=33)] == [3, 3, 1]
    with pytest.raises(InputError, match="more than a batch file may hold"):
        list(split_lines([b"y" * 50], max_bytes=20))


def test_openai_limits_are_the_defaults() -> None:
    assert [len(c) for c in split_lines([b"{}"] * 50_001)] == [50_000, 1]


@pytest.mark.parametrize(
    ("model", "fleet", "why"),
    [
        ("echo", False, "offline"),
        ("openai/gpt-4o-mini", True, "Router"),
        ("anthropic/claude-3-5-haiku-latest", False, "'anthropic' is not one"),
        ("ollama/llama3.1", False, "'ollama' is not one"),
    ],
)
def test_what_cannot_be_batched_says_why(model: str, fleet: bool, why: str) -> None:
    refusal = batch_refusal(model, fleet)
    assert refusal is not None and why in refusal


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "hosted_vllm/meta-llama/Llama-3.1-8B", "litellm_proxy/x"])
def test_openai_compatible_batch_apis_are_accepted(model: str) -> None:
    assert batch_refusal(model) is None


def test_request_body_is_the_native_body_without_client_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unit")
    spec = ModelSpec(name="m", litellm_id="openai/gpt-4o-mini", params={"temperature": 0, "timeout": 9})
    ep = endpoint_for(spec)
    assert ep.api_base == "https://api.openai.com/v1" and ep.kwargs["custom_llm_provider"] == "openai"
    body = request_body(ep, [{"role": "user", "content": "hi"}], {"max_tokens": 5, "stream": True, "api_key": "x"})
    assert body == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0,
        "max_tokens": 5,
    }


def test_hosted_vllm_without_api_base_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOSTED_VLLM_API_BASE", raising=False)
    with pytest.raises(InputError, match="no api_base to send its batches to"):
        endpoint_for(ModelSpec(name="v", litellm_id="hosted_vllm/llama"))


def test_reason_names_the_first_error_and_its_line() -> None:
    batch = {"errors": {"data": [{"code": "invalid_json_line", "message": "bad line", "line": 3}]}}
    assert _reason(batch, "failed") == "failed: bad line (input line 3)"
    assert _reason({}, "expired").startswith("expired: the completion window ended")
