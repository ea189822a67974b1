"""Prompt tokens written to the provider's prompt cache (Anthropic's cache_creation_input_tokens):
stored with each result and cache entry, priced at litellm's cache-write rate, shown in the totals."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.models import price_for
from llmctl.models._cost import cost_usd
from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from llmctl.types import ModelSpec
from tests.e2e.project import config, evalset, llmctl, prompt, write

MODEL = "openai/claude-haiku-4-5"  # priced from litellm's cost map, which has a cache-write rate


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


def test_cache_writes_are_stored_priced_and_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(default="yes", cache_write_tokens=4) as srv:
        cfg = config(srv.base_url)
        cfg["models"]["fake"]["model"] = MODEL
        del cfg["models"]["fake"]["price"]
        write(
            tmp_path, {"llmctl.yaml": cfg, "prompts/qa.yaml": prompt("Answer."), "evalsets/qa.yaml": evalset("qa", 3)}
        )
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert "12 written to the prompt cache" in out
        code, again = llmctl(tmp_path, "eval", capsys=capsys)  # every result from the cache
        assert code == 0 and srv.requests == 3, again
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    price = price_for(ModelSpec(name="fake", litellm_id=MODEL))
    assert price.cache_write is not None and price.cache_write > price.input
    for run in store.list_runs():
        rows = store.query(
            "SELECT prompt_tokens, completion_tokens, cache_write_tokens, cost_usd, cached FROM results WHERE run_id = ?",
            [str(run.id)],
        )
        assert len(rows) == 3
        for p, c, written, cost, _cached in rows:
            assert written == 4
            assert cost == pytest.approx(cost_usd(price, p, c, cache_write_tokens=4))
    assert store.query("SELECT DISTINCT cache_write_tokens FROM cache") == [(4,)]
