"""Batch prices: litellm's batch rates, else the alias's price.batch_*, else half the normal price."""

from __future__ import annotations

import pytest

from llmctl.models._cost import batch_price_for, price_for
from llmctl.types import ModelSpec


def test_litellm_batch_prices_where_the_cost_map_has_them() -> None:
    spec = ModelSpec(name="g", litellm_id="openai/gpt-4o-mini")
    price, source = batch_price_for(spec)
    assert source == "litellm"
    assert price.input == pytest.approx(7.5e-08) and price.output == pytest.approx(3e-07)
    assert price.input < price_for(spec).input


def test_alias_batch_price_when_litellm_has_none() -> None:
    spec = ModelSpec(
        name="v", litellm_id="hosted_vllm/my-model", batch_input_cost_per_1k=0.2, batch_output_cost_per_1k=0.4
    )
    price, source = batch_price_for(spec)
    assert source == "price" and price.input == pytest.approx(0.2 / 1000) and price.output == pytest.approx(0.4 / 1000)


def test_half_the_normal_price_otherwise() -> None:
    spec = ModelSpec(name="v", litellm_id="hosted_vllm/my-model", input_cost_per_1k=0.01, output_cost_per_1k=0.02)
    price, source = batch_price_for(spec)
    assert source == "half"
    assert price.input == pytest.approx(0.005 / 1000) and price.output == pytest.approx(0.01 / 1000)


def test_offline_models_are_free() -> None:
    assert batch_price_for(ModelSpec(name="echo", litellm_id="echo"))[0].input == 0.0
