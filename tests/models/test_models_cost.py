"""Prices from litellm's cost map: cached-input discounts and reasoning tokens, on both transports."""

from __future__ import annotations

import asyncio

import pytest

from llmctl.models import ModelClient, price_for
from llmctl.models._cost import Price, _bundled_cost_map, cost_usd
from llmctl.models._response import Usage, parse_completion
from llmctl.testing import FakeOpenAIServer
from llmctl.types import CallResult, ModelSpec

MODEL = "gpt-4o-mini"  # has a cache-read rate in litellm's cost map


def test_cached_prompt_tokens_cost_the_cache_read_rate() -> None:
    price = Price(input=1e-6, output=4e-6, cache_read=2.5e-7)
    assert cost_usd(price, 1000, 100) == pytest.approx(1000 * 1e-6 + 100 * 4e-6)
    assert cost_usd(price, 1000, 100, cached_tokens=600) == pytest.approx(400 * 1e-6 + 600 * 2.5e-7 + 100 * 4e-6)
    assert cost_usd(price, 10, 0, cached_tokens=99) == pytest.approx(10 * 2.5e-7)  # capped at the prompt
    # no cache-read rate: cached tokens cost the input rate
    assert cost_usd(Price(1e-6, 4e-6), 1000, 0, cached_tokens=600) == pytest.approx(1000 * 1e-6)
    assert cost_usd((1e-6, 4e-6), 1000, 100) == pytest.approx(1000 * 1e-6 + 100 * 4e-6)  # a plain pair


def test_reasoning_tokens_cost_their_own_rate_where_the_model_has_one() -> None:
    assert cost_usd(Price(0.0, 4e-6, reasoning=1e-5), 0, 100, reasoning_tokens=30) == pytest.approx(
        70 * 4e-6 + 30 * 1e-5
    )
    assert cost_usd(Price(0.0, 4e-6), 0, 100, reasoning_tokens=30) == pytest.approx(100 * 4e-6)


def test_prices_come_from_litellms_cost_map() -> None:
    entry = _bundled_cost_map()[MODEL]
    price = price_for(ModelSpec(name=MODEL, litellm_id=f"openai/{MODEL}"))
    assert price.input == entry["input_cost_per_token"] and price.output == entry["output_cost_per_token"]
    assert price.cache_read == entry["cache_read_input_token_cost"] < price.input
    reasoning = next(k for k, v in _bundled_cost_map().items() if "output_cost_per_reasoning_token" in v and "/" in k)
    assert price_for(ModelSpec(name="r", litellm_id=reasoning)).reasoning == pytest.approx(
        _bundled_cost_map()[reasoning]["output_cost_per_reasoning_token"]
    )
    # an alias's `price:` has no cache-read rate: cached tokens cost the input price
    assert price_for(ModelSpec(name="p", litellm_id=f"openai/{MODEL}", input_cost_per_1k=1.0)).cache_read is None


def test_the_price_of_cached_tokens_agrees_with_litellm_cost_per_token() -> None:
    from llmctl.models._litellm import import_litellm

    litellm = import_litellm()  # with its bundled cost map, as llmctl runs it
    price = price_for(ModelSpec(name=MODEL, litellm_id=f"openai/{MODEL}"))
    prompt, completion = litellm.cost_per_token(
        model=MODEL, prompt_tokens=1000, completion_tokens=100, cache_read_input_tokens=600
    )
    assert cost_usd(price, 1000, 100, cached_tokens=600) == pytest.approx(prompt + completion)


def test_usage_details_are_read() -> None:
    payload = {
        "choices": [{"message": {"content": "hi"}}],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 5},
        },
    }
    assert parse_completion(payload).usage == Usage(10, 7, 4, 5)
    payload["usage"]["prompt_tokens_details"] = {"cached_tokens": -3}  # type: ignore[index]
    completion = parse_completion(payload)
    assert completion.usage == Usage(10, 7, None, 5)
    assert any("prompt_tokens_details.cached_tokens" in w for w in completion.warnings)
    payload["usage"] = {"prompt_tokens": 10, "completion_tokens": 7, "prompt_tokens_details": None}
    assert parse_completion(payload).usage == Usage(10, 7)


def _call(server: FakeOpenAIServer, transport: str, text: str, *, stream: bool = False) -> CallResult:
    spec = ModelSpec(
        name="mini", litellm_id=f"openai/{MODEL}", api_base=server.base_url, timeout=5.0, retries=0, stream=stream
    )

    async def main() -> CallResult:
        async with ModelClient(transport=transport) as client:
            assert client.route(spec).kind == transport
            result: CallResult = await client.complete(spec, [{"role": "user", "content": text}])
            return result

    return asyncio.run(main())


@pytest.mark.parametrize(("transport", "stream"), [("native", False), ("native", True), ("litellm", False)])
def test_a_response_with_cached_tokens_is_priced_lower(
    openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, transport: str, stream: bool
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    openai_server.configure(default="the answer is four words")
    words = "one two three four five six seven eight nine ten"
    plain = _call(openai_server, transport, words, stream=stream)
    cached = _call(openai_server, transport, words + " [[cached_tokens=8]] [[reasoning_tokens=3]]", stream=stream)
    assert plain.error is None and cached.error is None, (plain.error, cached.error)
    assert (plain.cached_tokens, plain.reasoning_tokens) == (None, None)
    assert (cached.cached_tokens, cached.reasoning_tokens) == (8, 3)
    assert cached.prompt_tokens == plain.prompt_tokens + 2 and cached.completion_tokens == plain.completion_tokens + 3
    price = price_for(ModelSpec(name=MODEL, litellm_id=f"openai/{MODEL}"))
    assert plain.cost_usd == pytest.approx(cost_usd(price, plain.prompt_tokens or 0, plain.completion_tokens or 0))
    assert cached.cost_usd == pytest.approx(
        cost_usd(price, cached.prompt_tokens or 0, cached.completion_tokens or 0, cached_tokens=8)
    )
    undiscounted = cost_usd(price, cached.prompt_tokens or 0, cached.completion_tokens or 0)
    assert 0 < cached.cost_usd < undiscounted


WRITER = "claude-haiku-4-5"  # has a cache-write (cache_creation_input_token_cost) rate


def test_cache_written_prompt_tokens_cost_the_cache_write_rate() -> None:
    price = Price(input=1e-6, output=4e-6, cache_read=1e-7, cache_write=1.25e-6)
    assert cost_usd(price, 1000, 0, cache_write_tokens=600) == pytest.approx(400 * 1e-6 + 600 * 1.25e-6)
    assert cost_usd(price, 1000, 0, cached_tokens=300, cache_write_tokens=600) == pytest.approx(
        100 * 1e-6 + 300 * 1e-7 + 600 * 1.25e-6
    )
    # capped at what the cache read left of the prompt; no cache-write rate: the input rate
    assert cost_usd(price, 10, 0, cached_tokens=4, cache_write_tokens=99) == pytest.approx(4 * 1e-7 + 6 * 1.25e-6)
    assert cost_usd(Price(1e-6, 4e-6), 1000, 0, cache_write_tokens=600) == pytest.approx(1000 * 1e-6)


def test_the_cache_write_price_agrees_with_litellm_cost_per_token() -> None:
    from llmctl.models._litellm import import_litellm

    litellm = import_litellm()
    entry = _bundled_cost_map()[WRITER]
    price = price_for(ModelSpec(name="h", litellm_id=f"anthropic/{WRITER}"))
    assert price.cache_write == entry["cache_creation_input_token_cost"] > price.input
    prompt, completion = litellm.cost_per_token(
        model=WRITER, prompt_tokens=1000, completion_tokens=100, cache_creation_input_tokens=600
    )
    assert cost_usd(price, 1000, 100, cache_write_tokens=600) == pytest.approx(prompt + completion)


def test_cache_write_usage_is_read_where_providers_put_it() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 7, "cache_creation_input_tokens": 6}
    assert parse_completion({"choices": [{"message": {"content": "x"}}], "usage": usage}).usage == Usage(
        10, 7, cache_write_tokens=6
    )
    usage = {"prompt_tokens": 10, "completion_tokens": 7, "prompt_tokens_details": {"cache_creation_tokens": 5}}
    assert parse_completion({"choices": [{"message": {"content": "x"}}], "usage": usage}).usage == Usage(
        10, 7, cache_write_tokens=5
    )


@pytest.mark.parametrize(("transport", "stream"), [("native", False), ("native", True), ("litellm", False)])
def test_a_response_with_cache_writes_is_priced_at_the_write_rate(
    openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, transport: str, stream: bool
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    openai_server.configure(default="the answer is four words")
    spec = ModelSpec(
        name="w", litellm_id=f"openai/{WRITER}", api_base=openai_server.base_url, timeout=5.0, retries=0, stream=stream
    )

    async def main() -> CallResult:
        async with ModelClient(transport=transport) as client:
            assert client.route(spec).kind == transport
            text = "one two three four five six seven eight nine ten [[cache_write_tokens=8]]"
            result: CallResult = await client.complete(spec, [{"role": "user", "content": text}])
            return result

    result = asyncio.run(main())
    assert result.error is None and result.cache_write_tokens == 8 and result.prompt_tokens == 11
    price = price_for(ModelSpec(name="w", litellm_id=f"openai/{WRITER}"))
    assert price.cache_write is not None
    assert result.cost_usd == pytest.approx(cost_usd(price, 11, result.completion_tokens or 0, cache_write_tokens=8))
    assert result.cost_usd > cost_usd(price, 11, result.completion_tokens or 0)
