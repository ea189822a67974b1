"""Opt-in checks against real hosted models: skipped unless a key is set.

Run with e.g. `OPENAI_API_KEY=sk-... .venv/bin/pytest -m realapi tests/e2e/test_real_api.py`.
Each test makes a handful of cheap calls; nothing here runs in CI without secrets.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmctl.store import Store
from tests.e2e.project import evalset, llmctl, prompt, write

PROVIDERS = [
    ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
    ("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"),
]


@pytest.mark.realapi
@pytest.mark.parametrize(("model", "key_env"), PROVIDERS, ids=[m for m, _ in PROVIDERS])
def test_a_real_model_answers_and_is_priced(
    model: str, key_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not os.environ.get(key_env):
        pytest.skip(f"set {key_env} to run this real-API test")
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    write(
        tmp_path,
        {
            "llmctl.yaml": {"store": ".llmctl/llmctl.duckdb", "concurrency": 2, "default_models": [model]},
            "prompts/qa.yaml": prompt("Answer with the single word yes.", "{{ question }}"),
            "evalsets/qa.yaml": evalset("qa", 2, models=[model]),
        },
    )
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code in (0, 1), out  # the model's wording may fail the check; the call itself must work
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    outcomes = store.outcomes(store.list_runs()[0].id)
    assert len(outcomes) == 2 and all(o.error is None for o in outcomes)
    assert all(o.cost_usd > 0 and o.latency_ms > 0 for o in outcomes)
    assert os.environ[key_env] not in out
