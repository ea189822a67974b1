"""Fleet aliases (`deployments:` / `fallbacks:`): litellm's Router balances and fails over between
local OpenAI-compatible servers; llmctl's own retries wrap it once; config errors name file:line."""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmctl.config import load_config
from llmctl.errors import InputError
from llmctl.models import ModelClient, cache_key
from llmctl.models._resolve import resolve_model
from llmctl.testing import FakeOpenAIServer
from llmctl.types import CallResult, ModelSpec
from tests.e2e.project import llmctl
from tests.models.rawserver import RawServer


@pytest.fixture
def two_servers() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    with FakeOpenAIServer(default="from gpu1") as one, FakeOpenAIServer(default="from gpu2") as two:
        yield one, two


def spec_of(tmp_path: Path, yaml_text: str, name: str = "fleet") -> ModelSpec:
    (tmp_path / "llmctl.yaml").write_text(yaml_text)
    return resolve_model(name, load_config(tmp_path))


def fleet_yaml(one: str, two: str, *, weights: tuple[float, float] = (1, 1), extra: str = "") -> str:
    return (
        "retries: 2\n"
        "models:\n"
        "  fleet:\n"
        "    model: hosted_vllm/llama-3-8b\n"
        "    timeout: 5\n"
        "    deployments:\n"
        f"      - {{api_base: {one}, weight: {weights[0]}}}\n"
        f"      - {{api_base: {two}, weight: {weights[1]}, model: hosted_vllm/llama-3-8b-awq}}\n" + extra
    )


def ask(spec: ModelSpec, prompts: list[str], *, concurrency: int = 20) -> list[CallResult]:
    async def main() -> list[CallResult]:
        async with ModelClient(concurrency=concurrency, backoff_base=0.01) as client:
            return list(
                await asyncio.gather(*(client.complete(spec, [{"role": "user", "content": p}]) for p in prompts))
            )

    return asyncio.run(main())


def test_a_fleet_goes_through_litellms_router_never_native(tmp_path: Path, two_servers) -> None:
    one, two = two_servers
    spec = spec_of(tmp_path, fleet_yaml(one.base_url, two.base_url))

    async def main() -> str:
        async with ModelClient(transport="native") as client:
            route = await client.prepare(spec)
            return f"{route.kind}:{type(route.router).__name__}"

    assert asyncio.run(main()) == "litellm:Router"


def test_calls_spread_over_the_deployments_by_weight(tmp_path: Path, two_servers) -> None:
    one, two = two_servers
    spec = spec_of(tmp_path, fleet_yaml(one.base_url, two.base_url, weights=(3, 1)))
    results = ask(spec, [f"question {i}" for i in range(200)])
    assert all(r.error is None for r in results)
    answers = collections.Counter(r.output for r in results)
    assert answers["from gpu1"] + answers["from gpu2"] == 200
    assert one.requests + two.requests == 200
    share = one.requests / 200  # weight 3 of 4: 0.75 expected; about 5 standard deviations either side
    assert 0.6 <= share <= 0.9, answers
    assert two.last_request is not None and two.last_request["model"] == "llama-3-8b-awq"


def test_the_run_survives_one_server_dying_mid_run(tmp_path: Path, two_servers) -> None:
    one, two = two_servers
    one.configure(latency_ms=10)
    two.configure(latency_ms=10)
    spec = spec_of(tmp_path, fleet_yaml(one.base_url, two.base_url))

    async def main() -> list[CallResult]:
        async with ModelClient(concurrency=8, backoff_base=0.01) as client:
            tasks = [
                asyncio.create_task(client.complete(spec, [{"role": "user", "content": f"q{i}"}])) for i in range(120)
            ]
            while sum(t.done() for t in tasks) < 30:
                await asyncio.sleep(0.005)
            await asyncio.to_thread(two.stop)  # gpu2 goes away with calls in flight
            return list(await asyncio.gather(*tasks))

    results = asyncio.run(main())
    assert [r.error for r in results if r.error] == []
    assert all(r.output in ("from gpu1", "from gpu2") for r in results)
    late = results[60:]
    assert collections.Counter(r.output for r in late)["from gpu1"] >= 50  # gpu1 took over


def test_fallbacks_answer_when_every_deployment_fails_priced_as_the_fallback(tmp_path: Path, two_servers) -> None:
    one, two = two_servers
    one.configure(rate_500=1.0)
    two.configure(rate_500=1.0)
    with FakeOpenAIServer(default="from backup") as backup:
        spec = spec_of(
            tmp_path,
            fleet_yaml(one.base_url, two.base_url, extra="    fallbacks: [backup]\n")
            + f"  backup:\n    model: openai/backup-model\n    api_base: {backup.base_url}\n"
            "    price: {input_per_1k: 1.0, output_per_1k: 2.0}\n",
        )
        [result] = ask(spec, ["one two three"])
        assert result.output == "from backup" and result.error is None
        assert backup.requests == 1 and one.requests >= 1 and two.requests >= 1
        # priced as the alias that answered: 3 prompt tokens, 2 completion tokens at backup's price
        assert (result.prompt_tokens, result.completion_tokens) == (3, 2)
        assert result.cost_usd == pytest.approx((3 * 1.0 + 2 * 2.0) / 1000)


def test_one_layer_retries_when_all_deployments_fail(tmp_path: Path, two_servers) -> None:
    """The Router fails over (each deployment at most once a call) and never retries; llmctl's
    `retries: 2` retries the whole call: at most 3 calls x 2 deployments reach the servers."""
    one, two = two_servers
    one.configure(rate_500=1.0)
    two.configure(rate_500=1.0)
    spec = spec_of(tmp_path, fleet_yaml(one.base_url, two.base_url))
    [result] = ask(spec, ["hello"])
    assert result.output is None and result.error is not None
    assert "500" in result.error and "gave up after 3 attempts" in result.error
    assert result.retries == 2
    assert 2 <= one.requests + two.requests <= 6


def test_a_fleet_call_that_cannot_succeed_is_not_retried(tmp_path: Path, two_servers) -> None:
    one, two = two_servers
    one.configure(require_key="right")
    two.configure(require_key="right")
    spec = spec_of(tmp_path, fleet_yaml(one.base_url, two.base_url))
    [result] = ask(spec, ["hello"])
    assert result.error is not None and "401" in result.error and result.retries == 0


def test_alias_headers_and_deployment_keys_reach_each_deployment(
    tmp_path: Path, answering_server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPU_KEY", "sk-gpu-key-123456")
    spec = spec_of(
        tmp_path,
        "models:\n  fleet:\n    model: hosted_vllm/m\n    headers: {X-Team: evals}\n"
        f"    deployments:\n      - {{api_base: {answering_server.base}, api_key_env: GPU_KEY}}\n",
    )
    [result] = ask(spec, ["hi"])
    assert result.output == "from the server", result.error
    sent = answering_server.requests[0]
    assert sent.headers["x-team"] == "evals"
    assert sent.headers["authorization"] == "Bearer sk-gpu-key-123456"
    assert json.loads(sent.body)["model"] == "m"


def test_the_cache_key_is_the_alias_logical_model(tmp_path: Path) -> None:
    base = spec_of(tmp_path, fleet_yaml("http://gpu1:8000/v1", "http://gpu2:8000/v1"))
    more = spec_of(tmp_path, fleet_yaml("http://gpu1:8000/v1", "http://gpu3:8000/v1", weights=(1, 5)))
    messages = [{"role": "user", "content": "hi"}]
    assert base.deployments != more.deployments
    assert cache_key(base, messages) == cache_key(more, messages)


@pytest.mark.parametrize(
    ("extra", "message", "line"),
    [
        ("    transport: native\n", "transport: native cannot serve 'deployments'", 6),
        ("    fallbacks: [backpu]\n  backup: openai/gpt-4o-mini\n", "did you mean 'backup'?", 9),
        ("    fallbacks: [fleet]\n", "lists itself", 9),
        ("    fallbacks: [offline]\n  offline: echo\n", "offline 'echo' model", 9),
    ],
)
def test_fleet_config_errors_name_the_line(tmp_path: Path, extra: str, message: str, line: int) -> None:
    text = fleet_yaml("http://a/v1", "http://b/v1")
    if "transport" in extra:
        text = text.replace("    timeout: 5\n", "    timeout: 5\n" + extra)
    else:
        text += extra
    (tmp_path / "llmctl.yaml").write_text(text)
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    shown = f"{info.value.message} {info.value.hint or ''}"
    assert message in shown and info.value.line == line, (shown, info.value.line)


def test_an_unknown_deployment_key_gets_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "llmctl.yaml").write_text(
        "models:\n  fleet:\n    model: hosted_vllm/m\n    deployments:\n      - {api_base: http://a/v1, wieght: 2}\n"
    )
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert "unknown key 'wieght'" in info.value.message and info.value.hint == "did you mean 'weight'?"
    assert info.value.line == 5


def test_lint_and_schema_know_the_fleet_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "llmctl.yaml").write_text(
        "models:\n  fleet:\n    model: hosted_vllm/m\n    transport: native\n"
        "    deployments: [{api_base: http://a/v1}]\n"
    )
    code, out = llmctl(tmp_path, "lint", capsys=capsys)
    assert code == 2 and "llmctl.yaml:4" in out and "transport: native cannot serve" in out
    code, out = llmctl(tmp_path, "schema", "config", capsys=capsys)
    alias = json.loads(out)["properties"]["models"]["additionalProperties"]["oneOf"][1]["properties"]
    assert code == 0 and {"deployments", "fallbacks"} <= set(alias)
    assert set(alias["deployments"]["items"]["properties"]) == {"api_base", "model", "api_key_env", "weight"}


def test_changed_only_fingerprints_a_fleets_fallback_aliases(tmp_path: Path) -> None:
    from llmctl.evalset import load_evalset
    from llmctl.fingerprint import model_names

    (tmp_path / "llmctl.yaml").write_text(
        fleet_yaml("http://a/v1", "http://b/v1", extra="    fallbacks: [backup]\n") + "  backup: openai/gpt-4o-mini\n"
    )
    (tmp_path / "evalsets").mkdir()
    (tmp_path / "evalsets" / "qa.yaml").write_text("prompt: qa\ncases: [{id: a, vars: {}}]\n")
    cfg = load_config(tmp_path)
    ev = load_evalset(tmp_path / "evalsets" / "qa.yaml", tmp_path)
    assert model_names(ev, ["fleet"], cfg) == {"fleet", "backup"}


def test_credentials_are_checked_per_deployment_and_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmctl.models import check_credentials

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("GPU_KEY", raising=False)
    local = "models:\n  fleet:\n    model: openai/llama\n    deployments:\n      - {api_base: http://gpu1/v1}\n"
    check_credentials(spec_of(tmp_path, local))  # local servers need no key
    with pytest.raises(InputError, match="GPU_KEY"):
        check_credentials(spec_of(tmp_path, local.replace("gpu1/v1}", "gpu1/v1, api_key_env: GPU_KEY}")))
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        check_credentials(spec_of(tmp_path, local + "    fallbacks: [gpt]\n  gpt: openai/gpt-4o-mini\n"))
