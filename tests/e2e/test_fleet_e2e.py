"""`llmctl eval` with a fleet alias: two local servers behind one alias (litellm's Router), one of
them failing every call, and a fallback alias; every case answered, stored under the alias."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, evalset, llmctl, prompt, write


@pytest.fixture(autouse=True)
def _no_db_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_DB", raising=False)


def test_eval_over_a_fleet_with_a_broken_deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (
        FakeOpenAIServer(default="yes from gpu1") as gpu1,
        FakeOpenAIServer(default="yes from gpu2", rate_500=1.0) as gpu2,
    ):
        cfg = config(default_models=["fleet"])
        cfg["models"]["fleet"] = {
            "model": "hosted_vllm/llama-3-8b",
            "timeout": 5,
            "deployments": [{"api_base": gpu1.base_url, "weight": 1}, {"api_base": gpu2.base_url, "weight": 1}],
        }
        ev = evalset("qa", 20, models=["fleet"])
        write(tmp_path, {"llmctl.yaml": cfg, "prompts/qa.yaml": prompt("Answer."), "evalsets/qa.yaml": ev})
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert code == 0, out
        assert gpu1.statuses.get("200") == 20 and gpu2.requests >= 1  # gpu2 was tried and failed over
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    run_id = str(store.list_runs()[0].id)
    rows = store.query("SELECT model, output, error FROM results WHERE run_id = ?", [run_id])
    assert len(rows) == 20
    assert {(m, o, e) for m, o, e in rows} == {("fleet", "yes from gpu1", None)}


def test_eval_falls_back_to_another_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (
        FakeOpenAIServer(rate_500=1.0) as gpu1,
        FakeOpenAIServer(default="yes from backup") as backup,
    ):
        cfg = config(default_models=["fleet"])
        cfg["models"]["fleet"] = {
            "model": "hosted_vllm/llama-3-8b",
            "timeout": 5,
            "deployments": [{"api_base": gpu1.base_url}],
            "fallbacks": ["backup"],
        }
        cfg["models"]["backup"] = {"model": "openai/backup", "api_base": backup.base_url}
        ev = evalset("qa", 5, models=["fleet"])
        write(tmp_path, {"llmctl.yaml": cfg, "prompts/qa.yaml": prompt("Answer."), "evalsets/qa.yaml": ev})
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert backup.requests == 5
