"""MockTransport behind ModelClient: retries, scrubbing, cost and the transport registration
work the same for any transport (no server, no aiohttp, no litellm)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from llmctl.models import ModelClient
from llmctl.models._client import TRANSPORT_FACTORIES
from llmctl.models._errors import AttemptError
from llmctl.models._response import Completion, Usage
from llmctl.testing.mock_transport import MockRequest, MockTransport
from llmctl.types import CallResult, ModelSpec

KEY = "sk-mock-DO-NOT-LEAK-0987654321"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCTL_TEST_MOCK_KEY", KEY)


def spec(**changes: Any) -> ModelSpec:
    base = ModelSpec(
        name="local",
        litellm_id="openai/mock-model",
        api_base="http://127.0.0.1:9/v1",  # nothing listens: only the mock may answer
        api_key_env="LLMCTL_TEST_MOCK_KEY",
        input_cost_per_1k=1.0,
        output_cost_per_1k=2.0,
        timeout=5.0,
        retries=2,
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def run(mock: MockTransport, model: ModelSpec, *prompts: str) -> list[CallResult]:
    async def main() -> list[CallResult]:
        async with ModelClient(concurrency=4, transports={"native": mock}, backoff_base=0.001) as client:
            assert client.route(model).kind == "native"
            return list(
                await asyncio.gather(*(client.complete(model, [{"role": "user", "content": p}]) for p in prompts))
            )

    return asyncio.run(main())


def test_answers_come_from_the_handler_with_the_alias_cost() -> None:
    def handler(request: MockRequest) -> Completion:
        text = request.messages[-1]["content"]
        return Completion(output=text.upper(), usage=Usage(prompt_tokens=10, completion_tokens=5))

    mock = MockTransport(handler)
    first, second = run(mock, spec(), "hello", "bye")
    assert (first.output, second.output) == ("HELLO", "BYE")
    assert first.cost_usd == pytest.approx((10 * 1.0 + 5 * 2.0) / 1000)
    assert len(mock.prepared) == 1 and mock.prepared[0].model == "mock-model"
    assert mock.closed
    assert all(r.route.headers.get("Authorization") == f"Bearer {KEY}" for r in mock.requests)


def test_a_retryable_attempt_error_is_retried() -> None:
    def handler(request: MockRequest) -> str:
        if request.attempt == 1:
            raise AttemptError("HTTP 503 from mock", retryable=True, status=503)
        return "ok"

    [result] = run(MockTransport(handler), spec(), "hi")
    assert result.output == "ok" and result.retries == 1 and result.error is None


def test_a_final_error_is_not_retried_and_the_key_is_scrubbed() -> None:
    def handler(request: MockRequest) -> str:
        raise AttemptError(f"HTTP 401 from mock: bad key {KEY}", retryable=False, status=401)

    mock = MockTransport(handler)
    [result] = run(mock, spec(), "hi")
    assert result.output is None and result.retries == 0 and len(mock.requests) == 1
    assert result.error is not None and "HTTP 401" in result.error and KEY not in result.error


def test_a_bug_in_the_transport_is_the_case_error_not_the_run() -> None:
    async def handler(request: MockRequest) -> str:
        raise KeyError("choices")

    [result] = run(MockTransport(handler), spec(retries=0), "hi")
    assert result.output is None and result.error is not None and "KeyError" in result.error


def test_every_route_kind_but_offline_has_a_registered_transport() -> None:
    from typing import get_args

    from llmctl.models._transport import RouteKind

    assert set(get_args(RouteKind)) - {"offline"} == set(TRANSPORT_FACTORIES)


def test_registering_the_transports_imports_neither_aiohttp_nor_litellm() -> None:
    code = "import sys, llmctl.models._client\nprint(sorted(m for m in ('aiohttp', 'litellm') if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
