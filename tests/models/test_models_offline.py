"""The offline built-ins `echo` and `scripted`, through ModelClient.complete."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.models import ModelClient, TokenBucket
from llmctl.types import CallResult, ModelSpec

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Please issue a refund for order 42"},
]


def complete(spec: ModelSpec, messages: list[dict[str, str]] = MESSAGES) -> CallResult:
    async def main() -> CallResult:
        async with ModelClient() as client:
            return await client.complete(spec, messages)

    return asyncio.run(main())


def test_echo_returns_every_message_joined() -> None:
    result = complete(ModelSpec(name="echo", litellm_id="echo"))
    assert result.output == "You are terse.\nPlease issue a refund for order 42"
    assert result.error is None
    assert (result.prompt_tokens, result.completion_tokens) == (10, 10)
    assert result.cost_usd == 0.0


def test_scripted_rules_in_order_then_default_then_echo() -> None:
    rules = {"/order \\d+/": "regex hit", "refund": "substring hit"}
    spec = ModelSpec(name="s", litellm_id="scripted", responses=rules)
    assert complete(spec).output == "regex hit"
    spec.responses = {"refund": "Refund issued", "/order/": "never"}
    result = complete(spec)
    assert result.output == "Refund issued"
    assert result.completion_tokens == 2
    spec.responses = {"nothing": "x"}
    spec.default = "I cannot help"
    assert complete(spec).output == "I cannot help"
    spec.default = None
    assert complete(spec).output == "You are terse.\nPlease issue a refund for order 42"


def test_scripted_matches_last_user_message_only() -> None:
    spec = ModelSpec(name="s", litellm_id="scripted", responses={"terse": "system matched"}, default="no")
    assert complete(spec).output == "no"


def test_scripted_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_fake_model.py").write_text(
        "def answer(messages):\n    return messages[-1]['content'].upper()\n"
        "async def aanswer(messages):\n    return 'async ' + str(len(messages))\n"
        "def broken(messages):\n    raise RuntimeError('boom')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = ModelSpec(name="f", litellm_id="scripted", function="my_fake_model:answer")
    assert complete(spec).output == "PLEASE ISSUE A REFUND FOR ORDER 42"
    spec.function = "my_fake_model:aanswer"
    assert complete(spec).output == "async 2"
    spec.function = "my_fake_model:broken"
    result = complete(spec)
    assert result.output is None and "boom" in (result.error or "")
    spec.function = "my_fake_model:missing"
    with pytest.raises(InputError, match="cannot be loaded"):
        complete(spec)


def test_scripted_latency_and_concurrency() -> None:
    spec = ModelSpec(name="slow", litellm_id="scripted", latency_ms=100, max_concurrency=2)

    async def main() -> float:
        async with ModelClient(concurrency=10) as client:
            start = time.perf_counter()
            results = await asyncio.gather(*(client.complete(spec, MESSAGES) for _ in range(4)))
            assert all(r.latency_ms >= 95 for r in results)
            return time.perf_counter() - start

    assert 0.19 <= asyncio.run(main()) < 5.0  # 4 calls, 2 at a time, 100 ms each: at least two rounds


def test_token_bucket_paces_requests() -> None:
    async def main() -> float:
        bucket = TokenBucket(per_minute=1200, capacity=1)  # 20/s, no burst
        start = time.perf_counter()
        for _ in range(6):
            await bucket.acquire()
        return time.perf_counter() - start

    assert 0.2 <= asyncio.run(main()) < 5.0  # paced: 6 tokens at 20/s with no burst


def test_scripted_answers_with_tool_calls_then_from_the_tool_result() -> None:
    spec = ModelSpec(
        name="s",
        litellm_id="scripted",
        responses={
            '"status": "shipped"': "It has shipped.",
            "ORD-1": {"content": None, "tool_calls": [{"name": "get_order", "args": {"order_id": "ORD-1"}}]},
        },
    )
    first = complete(spec, [{"role": "user", "content": "Where is ORD-1?"}])
    assert first.output == "" and first.finish_reason == "tool_calls"
    assert first.tool_calls == [
        {
            "id": "call_1",
            "name": "get_order",
            "arguments": {"order_id": "ORD-1"},
            "raw_arguments": '{"order_id": "ORD-1"}',
        }
    ]
    history = [
        {"role": "user", "content": "Where is ORD-1?"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
    ]
    second = complete(spec, history)  # type: ignore[arg-type]
    assert second.output == "It has shipped." and second.tool_calls is None and second.finish_reason == "stop"


def test_scripted_tool_call_answers_are_checked_in_llmctl_yaml(tmp_path: Path) -> None:
    from llmctl.config import load_config

    (tmp_path / "llmctl.yaml").write_text(
        "models:\n  s:\n    model: scripted\n    responses:\n      hi: {tool_calls: [{args: {}}]}\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="tool_calls must be a list of") as info:
        load_config(tmp_path)
    assert info.value.line == 5
