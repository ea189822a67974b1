"""resolve_model, check_credentials, cache_key, transport choice: no network, no litellm."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmctl.config import Config, ModelAlias
from llmctl.errors import InputError
from llmctl.models import cache_key, check_credentials, resolve_model
from llmctl.models._routing import resolve_route, transport_from_env
from llmctl.types import ModelSpec


@pytest.fixture
def config(tmp_path: Path) -> Config:
    cfg = Config(root=tmp_path, timeout=12.0, retries=2)
    cfg.models["local"] = ModelAlias(
        name="local",
        model="openai/llama-3-8b",
        api_base="http://127.0.0.1:8000/v1",
        params={"temperature": 0},
        input_cost_per_1k=0.1,
        output_cost_per_1k=0.2,
        max_concurrency=4,
        rpm=600,
    )
    cfg.models["bot"] = ModelAlias(name="bot", model="scripted", responses={"hi": "hello"}, default="?")
    cfg.models["keyed"] = ModelAlias(name="keyed", model="openai/gpt-4o", api_key_env="MY_TEAM_KEY", timeout=5)
    return cfg


def test_alias_resolves_with_its_settings(config: Config) -> None:
    spec = resolve_model("local", config)
    assert spec.name == "local"
    assert spec.litellm_id == "openai/llama-3-8b"
    assert spec.api_base == "http://127.0.0.1:8000/v1"
    assert spec.params == {"temperature": 0}
    assert (spec.input_cost_per_1k, spec.output_cost_per_1k) == (0.1, 0.2)
    assert (spec.max_concurrency, spec.rpm) == (4, 600)
    assert (spec.timeout, spec.retries) == (12.0, 2)
    assert resolve_model("keyed", config).timeout == 5


@pytest.mark.parametrize(
    "name", ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest", "ollama/llama3.1", "hosted_vllm/org/m"]
)
def test_litellm_ids_resolve_as_is(config: Config, name: str) -> None:
    spec = resolve_model(name, config)
    assert (spec.name, spec.litellm_id, spec.api_base) == (name, name, None)
    assert not spec.offline


def test_builtins(config: Config) -> None:
    assert resolve_model("echo", config).offline
    assert resolve_model("scripted", config).litellm_id == "scripted"
    bot = resolve_model("bot", config)
    assert bot.offline and bot.responses == {"hi": "hello"} and bot.default == "?"


@pytest.mark.parametrize("name", ["gpt-4o-mini", "nonsense", "/x", "openai/"])
def test_unknown_name_lists_aliases(config: Config, name: str) -> None:
    with pytest.raises(InputError) as info:
        resolve_model(name, config)
    message = str(info.value)
    assert repr(name) in message
    assert "bot, keyed, local" in message
    assert "openai/gpt-4o-mini" in message  # the hint shows the expected shape


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(InputError, match="No API key for openai — set OPENAI_API_KEY"):
        check_credentials(resolve_model("openai/gpt-4o-mini", config))
    with pytest.raises(InputError, match="set ANTHROPIC_API_KEY"):
        check_credentials(resolve_model("anthropic/claude-3-5-haiku-latest", config))
    monkeypatch.delenv("MY_TEAM_KEY", raising=False)
    with pytest.raises(InputError, match="set MY_TEAM_KEY"):
        check_credentials(resolve_model("keyed", config))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-value")
    check_credentials(resolve_model("openai/gpt-4o-mini", config))


def test_no_key_needed_offline_or_local(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in ("echo", "scripted", "bot", "local", "ollama/llama3.1", "hosted_vllm/m"):
        check_credentials(resolve_model(name, config))


def test_cache_key_is_stable_and_sensitive(config: Config) -> None:
    spec = resolve_model("local", config)
    messages = [{"role": "user", "content": "hi"}]
    key = cache_key(spec, messages, {"max_tokens": 5}, 0)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == cache_key(spec, [dict(m) for m in messages], {"max_tokens": 5}, 0)
    assert key != cache_key(spec, messages, {"max_tokens": 5}, 1)
    assert key != cache_key(spec, messages, {"max_tokens": 6}, 0)
    assert key != cache_key(spec, [{"role": "user", "content": "hi!"}], {"max_tokens": 5}, 0)
    other = ModelSpec(name="local", litellm_id=spec.litellm_id, api_base="http://other/v1", params=spec.params)
    assert key != cache_key(other, messages, {"max_tokens": 5}, 0)
    # alias params are part of the request, so part of the key
    assert cache_key(spec, messages, {"temperature": 0}) == cache_key(spec, messages, {})


def test_transport_choice(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    local = resolve_model("local", config)
    assert resolve_route(local, "auto").kind == "native"
    assert resolve_route(local, "auto").url == "http://127.0.0.1:8000/v1/chat/completions"
    assert resolve_route(resolve_model("openai/gpt-4o", config), "native").url.startswith("https://api.openai")
    assert resolve_route(resolve_model("echo", config), "litellm").kind == "offline"
    monkeypatch.setenv("LLMCTL_TRANSPORT", "litellm")
    assert transport_from_env() == "litellm"
    monkeypatch.setenv("LLMCTL_TRANSPORT", "bogus")
    with pytest.raises(InputError, match="LLMCTL_TRANSPORT"):
        transport_from_env()


def test_cheap_paths_never_import_litellm(tmp_path: Path) -> None:
    """Resolving, echo/scripted calls and native routes with a price must not import litellm."""
    code = """
import asyncio, sys
from llmctl.config import Config, ModelAlias
from llmctl.models import ModelClient, check_credentials, resolve_model
cfg = Config(root=__import__('pathlib').Path('.'))
cfg.models['local'] = ModelAlias(name='local', model='openai/m', api_base='http://127.0.0.1:9/v1',
                                 input_cost_per_1k=0.1, output_cost_per_1k=0.1)
async def main():
    async with ModelClient() as client:
        for name in ('echo', 'scripted'):
            spec = resolve_model(name, cfg)
            check_credentials(spec)
            assert (await client.complete(spec, [{'role': 'user', 'content': 'x'}])).output == 'x'
        assert client.route(resolve_model('local', cfg)).kind == 'native'
asyncio.run(main())
assert 'litellm' not in sys.modules, 'litellm was imported'
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, timeout=60)
