"""A transport is one class plus its registration (issue 28): a throwaway transport defined and
registered in this test file alone serves a whole `llmctl eval`, with retries, cost, scrubbing,
the store and the report above it unchanged; registered by name, llmctl.yaml's `transport:`
chooses it. No server listens; nothing else is edited."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmctl.models import price_for, register_transport
from llmctl.models._client import TRANSPORT_FACTORIES
from llmctl.models._errors import AttemptError
from llmctl.models._response import Completion, Usage
from llmctl.models._transport import ROUTE_RESOLVERS, Route
from llmctl.store import Store
from llmctl.types import Messages, ModelSpec
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env
from tests.labelled_project import YAML, make

KEY = "sk-throwaway-DO-NOT-LEAK-1234567890"


class ShoutingTransport:
    """Answers every prompt with its last message upper-cased; the first attempt of each fails
    with a retryable error (so the client's retries are exercised), and one answer echoes the key."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.attempts: dict[str, int] = {}
        self.closed = False

    def prepare(self, route: Route, timeout_s: float) -> None:
        self.routes.append(route)

    async def call(
        self, route: Route, messages: Messages, params: dict[str, Any], stream: bool, t0: float
    ) -> Completion:
        text = str(messages[-1]["content"])
        self.attempts[text] = self.attempts.get(text, 0) + 1
        if self.attempts[text] == 1:
            raise AttemptError("HTTP 503: warming up", retryable=True)
        if "Ticket: 7" in text:
            return Completion(output=f"leaked {route.api_key} ok", usage=Usage(prompt_tokens=100, completion_tokens=10))
        return Completion(output=text.upper() + " OK", usage=Usage(prompt_tokens=100, completion_tokens=10))

    async def close(self) -> None:
        self.closed = True


MODEL = """\
  demo:
    model: openai/throwaway-model
    api_base: http://127.0.0.1:9/v1
    api_key_env: LLMCTL_TEST_THROWAWAY_KEY
    price: {input_per_1k: 1.0, output_per_1k: 2.0}
"""


def test_a_transport_registered_in_a_test_serves_an_eval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[ShoutingTransport] = []

    def factory() -> ShoutingTransport:
        made.append(ShoutingTransport())
        return made[-1]

    monkeypatch.setitem(TRANSPORT_FACTORIES, "native", factory)  # the registration (restored after)
    root = _project(tmp_path, monkeypatch, MODEL)
    code, _out, err = cli(["eval", "support", "--no-cache"], capsys, monkeypatch)
    assert code in (0, 1), err
    assert len(made) == 1 and made[0].closed and [r.kind for r in made[0].routes] == ["native"]
    _check_results(root, made[0])


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str) -> Path:
    monkeypatch.setenv("LLMCTL_TEST_THROWAWAY_KEY", KEY)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    git_env(monkeypatch)
    root = tmp_path / "proj"
    repo = make(root)
    start = YAML.index("  demo:\n")
    end = YAML.index("  grader:\n")
    repo.commit({"llmctl.yaml": YAML[:start] + model + YAML[end:]}, "the demo model behind the throwaway transport")
    monkeypatch.chdir(root)
    return root


def _check_results(root: Path, transport: ShoutingTransport) -> None:
    store = Store(root / ".llmctl" / "llmctl.duckdb")
    (run,) = store.list_runs()
    outcomes = {o.case_id: o for o in store.outcomes(run.id)}
    assert len(outcomes) == 10 and all(o.error is None for o in outcomes.values())
    assert "TICKET: 3" in (outcomes["c3"].output or "")
    assert KEY not in (outcomes["c7"].output or "") and "***" in (outcomes["c7"].output or "")
    assert all(o.usage.prompt_tokens == 100 for o in outcomes.values())
    assert outcomes["c0"].cost_usd == pytest.approx(100 / 1000 * 1.0 + 10 / 1000 * 2.0)
    assert all(n == 2 for n in transport.attempts.values())  # the client retried each first failure


def _shout_route(spec: ModelSpec) -> Route:
    """How a model with `transport: shout` is called: its key from its api_key_env, its alias's price."""
    env = spec.api_key_env or ""
    return Route(kind="shout", provider="shout", model=spec.litellm_id, api_key=os.environ.get(env), key_env=(env,),
                 price=price_for(spec))  # fmt: skip


@pytest.fixture
def shout() -> Iterator[list[ShoutingTransport]]:
    made: list[ShoutingTransport] = []

    def factory() -> ShoutingTransport:
        made.append(ShoutingTransport())
        return made[-1]

    register_transport("shout", factory, _shout_route)
    yield made
    TRANSPORT_FACTORIES.pop("shout")
    ROUTE_RESOLVERS.pop("shout")


def test_a_transport_registered_by_name_is_chosen_by_the_alias(
    shout: list[ShoutingTransport], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, monkeypatch, MODEL.replace("    api_base:", "    transport: shout\n    api_base:"))
    code, _out, err = cli(["eval", "support", "--no-cache"], capsys, monkeypatch)
    assert code in (0, 1), err
    assert len(shout) == 1 and shout[0].closed and [r.kind for r in shout[0].routes] == ["shout"]
    _check_results(root, shout[0])
    with pytest.raises(ValueError, match="taken"):
        register_transport("native", ShoutingTransport, _shout_route)
    with pytest.raises(ValueError, match="taken"):
        register_transport("shout", ShoutingTransport, _shout_route)


def test_an_unregistered_transport_name_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(tmp_path, monkeypatch, MODEL.replace("    api_base:", "    transport: shout\n    api_base:"))
    code, _out, err = cli(["eval", "support", "--no-cache"], capsys, monkeypatch)
    assert code == 2 and "transport must be one of auto, native, litellm, not 'shout'" in err
