"""ModelClient against the fake OpenAI-compatible server, through litellm and the native path."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from llmctl.models import ModelClient
from llmctl.testing import FakeOpenAIServer
from llmctl.types import CallResult, ModelSpec

CANARY = "sk-canary-DO-NOT-LEAK-1234567890"
TRANSPORTS = ["native", "litellm"]


def spec_for(server: FakeOpenAIServer, **changes: Any) -> ModelSpec:
    spec = ModelSpec(
        name="local",
        litellm_id="openai/fake-model",
        api_base=server.base_url,
        api_key_env="LLMCTL_TEST_CANARY_KEY",
        input_cost_per_1k=1.0,
        output_cost_per_1k=2.0,
        timeout=5.0,
        retries=3,
    )
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def run(transport: str, spec: ModelSpec, *prompts: str, concurrency: int = 20) -> list[CallResult]:
    async def main() -> list[CallResult]:
        async with ModelClient(concurrency=concurrency, transport=transport, backoff_base=0.01) as client:
            assert client.route(spec).kind == transport
            return list(await asyncio.gather(*(client.complete(spec, user(p)) for p in prompts)))

    return asyncio.run(main())


@pytest.fixture(autouse=True)
def canary_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCTL_TEST_CANARY_KEY", CANARY)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_answers_tokens_and_alias_cost(openai_server: FakeOpenAIServer, transport: str) -> None:
    openai_server.configure(responses={"refund": "Refund issued today"}, latency_ms=20)
    first, second = run(transport, spec_for(openai_server), "I want a refund", "echo me back")
    assert first.output == "Refund issued today" and first.error is None
    assert (first.prompt_tokens, first.completion_tokens) == (6, 3)
    assert first.cost_usd == pytest.approx((6 * 1.0 + 3 * 2.0) / 1000)
    assert first.retries == 0 and first.latency_ms >= 20 and first.ttft_ms is None
    assert second.output == "echo me back"
    assert openai_server.requests_for("I want a refund") == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cost_from_litellm_cost_map(openai_server: FakeOpenAIServer, transport: str) -> None:
    spec = spec_for(openai_server, litellm_id="openai/gpt-4o-mini", input_cost_per_1k=None, output_cost_per_1k=None)
    (result,) = run(transport, spec, "one two three")
    assert (result.prompt_tokens, result.completion_tokens) == (5, 3)
    assert result.cost_usd == pytest.approx(5 * 0.15e-6 + 3 * 0.6e-6)  # gpt-4o-mini's listed price


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fault", ["500", "malformed", "drop"])
def test_retries_transient_faults(openai_server: FakeOpenAIServer, transport: str, fault: str) -> None:
    prompt = f"flaky [[faults={fault},{fault}]]"
    (result,) = run(transport, spec_for(openai_server), prompt)
    assert result.error is None, result.error
    assert result.output == prompt
    assert result.retries == 2
    assert openai_server.requests_for(prompt) == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_429_honours_retry_after(openai_server: FakeOpenAIServer, transport: str) -> None:
    openai_server.configure(retry_after=0.4)
    start = time.perf_counter()
    (result,) = run(transport, spec_for(openai_server), "busy [[faults=429]]")
    assert result.error is None and result.retries == 1
    assert time.perf_counter() - start >= 0.4  # backoff_base is 10 ms: the wait is Retry-After's
    assert openai_server.statuses.get("429") == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slow_response_times_out_then_retries(openai_server: FakeOpenAIServer, transport: str) -> None:
    openai_server.configure(slow_ms=3000)
    start = time.perf_counter()
    (result,) = run(transport, spec_for(openai_server, timeout=0.5), "slow [[faults=slow]]")
    elapsed = time.perf_counter() - start
    assert result.error is None and result.retries == 1
    assert 0.5 <= elapsed < 10  # timed out once (>= the 0.5 s timeout), then succeeded without waiting 3 s x N


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exhausted_retries_give_an_error_without_the_key(openai_server: FakeOpenAIServer, transport: str) -> None:
    openai_server.configure(rate_500=1.0)
    (result,) = run(transport, spec_for(openai_server, retries=2), "doomed")
    assert result.output is None
    assert result.retries == 2
    assert "500" in (result.error or "") and "3 attempts" in (result.error or "")
    assert openai_server.requests_for("doomed") == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_auth_error_is_not_retried_and_key_is_scrubbed(openai_server: FakeOpenAIServer, transport: str) -> None:
    openai_server.configure(require_key="sk-the-right-one")  # 401 quotes the key it was sent
    (result,) = run(transport, spec_for(openai_server), "who am i")
    assert result.output is None and result.retries == 0
    assert "401" in (result.error or "") or "Authentication" in (result.error or "")
    assert CANARY not in (result.error or "")
    assert "***" in (result.error or "")
    assert openai_server.requests_for("who am i") == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_concurrency_limits(openai_server: FakeOpenAIServer, transport: str) -> None:
    openai_server.configure(latency_ms=100)
    prompts = [f"q{i}" for i in range(8)]
    results = run(transport, spec_for(openai_server), *prompts, concurrency=4)
    assert all(r.error is None for r in results)
    assert 2 <= openai_server.max_in_flight <= 4  # the bound is the point; 4 unless the box stalls
    openai_server.reset()
    results = run(transport, spec_for(openai_server, max_concurrency=2), *prompts, concurrency=10)
    assert all(r.error is None for r in results)
    assert openai_server.max_in_flight == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_streaming_measures_ttft(openai_server: FakeOpenAIServer, transport: str) -> None:
    openai_server.configure(latency_ms=100, stream_delay_ms=40)
    spec = spec_for(openai_server, stream=True)
    run(transport, spec, "warm up")  # litellm loads its streaming code on first use
    (result,) = run(transport, spec, "one two three four five")
    assert result.output == "one two three four five"
    assert result.completion_tokens == 5
    assert result.ttft_ms is not None
    assert 95 <= result.ttft_ms < result.latency_ms - 100  # 4 more chunks, 40 ms apart


def test_hosted_vllm_goes_native(openai_server: FakeOpenAIServer) -> None:
    spec = spec_for(openai_server, litellm_id="hosted_vllm/org/model-7b", api_key_env=None)
    (result,) = run("native", spec, "hi vllm")
    assert result.output == "hi vllm" and result.error is None


def test_transport_env_and_non_openai_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCTL_TRANSPORT", "litellm")
    assert ModelClient().transport == "litellm"
    monkeypatch.setenv("LLMCTL_TRANSPORT", "native")
    client = ModelClient()
    claude = ModelSpec(name="c", litellm_id="anthropic/claude-3-5-haiku-latest")
    assert client.route(claude).kind == "litellm"  # not OpenAI-compatible: always litellm
    groq = ModelSpec(name="g", litellm_id="groq/llama3-8b-8192")
    route = client.route(groq)  # litellm says OpenAI-compatible, with its api_base
    assert route.kind == "native" and route.url == "https://api.groq.com/openai/v1/chat/completions"


def test_connection_refused_is_an_error_not_an_exception() -> None:
    spec = ModelSpec(name="down", litellm_id="openai/m", api_base="http://127.0.0.1:9/v1", retries=1)

    async def main() -> CallResult:
        async with ModelClient(backoff_base=0.01) as client:
            return await client.complete(spec, user("anyone?"))

    result = asyncio.run(main())
    assert result.output is None and result.retries == 1
    assert "connection error" in (result.error or "")
