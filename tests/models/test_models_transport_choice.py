"""Which transport serves an alias (`transport: auto|native|litellm`), alias `headers:` on both
transports, `mock_response` without a network call, and options refused at config time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from llmctl.config import load_config
from llmctl.errors import InputError
from llmctl.models import ModelClient
from llmctl.models._resolve import resolve_model
from llmctl.types import CallResult, ModelSpec
from tests.e2e.project import llmctl
from tests.models.rawserver import RawServer
from tests.reliability.helpers import make_project


def config(tmp_path: Path, alias: str) -> Path:
    (tmp_path / "llmctl.yaml").write_text("models:\n  m:\n" + alias)
    return tmp_path


def spec_of(tmp_path: Path, alias: str) -> ModelSpec:
    return resolve_model("m", load_config(config(tmp_path, alias)))


def complete(spec: ModelSpec, transport: str = "auto") -> tuple[str, CallResult]:
    async def main() -> tuple[str, CallResult]:
        async with ModelClient(transport=transport, backoff_base=0.01) as client:
            kind = client.route(spec).kind
            return kind, await client.complete(spec, [{"role": "user", "content": "hi"}])

    return asyncio.run(main())


@pytest.mark.parametrize("transport", ["native", "litellm"])
def test_alias_headers_reach_the_server(tmp_path: Path, answering_server: RawServer, transport: str) -> None:
    spec = spec_of(
        tmp_path,
        f"    model: openai/m\n    api_base: {answering_server.base}\n    transport: {transport}\n"
        "    headers: {X-Team: evals, X-Trace-Id: abc123}\n",
    )
    kind, result = complete(spec)
    assert kind == transport and result.output == "from the server", result.error
    headers = answering_server.requests[0].headers
    assert headers["x-team"] == "evals" and headers["x-trace-id"] == "abc123"
    assert "headers" not in json.loads(answering_server.requests[0].body)


def test_mock_response_goes_through_litellm_and_makes_no_call(tmp_path: Path, answering_server: RawServer) -> None:
    spec = spec_of(
        tmp_path, f"    model: openai/m\n    api_base: {answering_server.base}\n    params: {{mock_response: mocked}}\n"
    )
    kind, result = complete(spec)
    assert kind == "litellm" and result.output == "mocked"
    assert answering_server.requests == [] and answering_server.connections == 0


def test_a_prompts_mock_response_goes_through_litellm_too(tmp_path: Path, answering_server: RawServer) -> None:
    spec = spec_of(tmp_path, f"    model: openai/m\n    api_base: {answering_server.base}\n")

    async def main() -> tuple[str, CallResult, CallResult]:
        async with ModelClient(backoff_base=0.01) as client:
            kind = client.route(spec).kind
            mocked = await client.complete(spec, [{"role": "user", "content": "hi"}], {"mock_response": "mocked"})
            plain = await client.complete(spec, [{"role": "user", "content": "hi"}], {"temperature": 0})
            return kind, mocked, plain

    kind, mocked, plain = asyncio.run(main())
    assert kind == "native" and mocked.output == "mocked" and plain.output == "from the server"
    assert len(answering_server.requests) == 1 and json.loads(answering_server.requests[0].body)["temperature"] == 0


def test_auto_sends_options_native_does_not_implement_to_litellm(tmp_path: Path) -> None:
    client = ModelClient()
    plain = spec_of(tmp_path, "    model: openai/gpt-4o-mini\n    params: {temperature: 0, seed: 1}\n")
    assert client.route(plain).kind == "native"
    for params in ("{drop_params: true}", "{organization: org-1}", "{extra_query: {a: 1}}"):
        spec = spec_of(tmp_path, f"    model: openai/gpt-4o-mini\n    params: {params}\n")
        assert client.route(spec).kind == "litellm", params
    o_series = spec_of(tmp_path, "    model: openai/o3-mini\n    params: {max_tokens: 5}\n")
    assert client.route(o_series).kind == "litellm"  # litellm maps it to max_completion_tokens


def test_org_env_sends_openai_through_litellm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    spec = spec_of(tmp_path, "    model: openai/gpt-4o-mini\n")
    assert ModelClient().route(spec).kind == "litellm"


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("    model: openai/m\n    transport: native\n    params: {mock_response: x}\n", "option 'mock_response'"),
        ("    model: openai/m\n    transport: native\n    params: {drop_params: true}\n", "option 'drop_params'"),
        ("    model: anthropic/claude-3-5-haiku-latest\n    transport: native\n", "not an OpenAI-compatible"),
        ("    model: openai/o1\n    transport: native\n    params: {max_tokens: 3}\n", "max_tokens"),
        ("    model: openai/m\n    transport: fast\n", "transport must be one of"),
        ("    model: openai/m\n    headers: {'X-A': \"a\\r\\nInjected: 1\"}\n", "not allowed in an HTTP header"),
    ],
)
def test_options_the_transport_cannot_honour_are_config_errors(tmp_path: Path, alias: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        spec_of(tmp_path, alias)
    assert info.value.file is not None and str(info.value.file).endswith("llmctl.yaml")


def test_eval_refuses_an_unhonoured_option_with_exit_2(
    tmp_path: Path, answering_server: RawServer, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, answering_server.base, 2, extra_cfg={})
    text = (tmp_path / "llmctl.yaml").read_text()
    assert "fake:" in text
    (tmp_path / "llmctl.yaml").write_text(
        text.replace("fake:", "fake:\n    transport: native\n    params: {mock_response: x}", 1)
    )
    code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
    assert code == 2, out
    assert "mock_response" in out and "llmctl.yaml" in out and "Traceback" not in out
    assert answering_server.requests == []
