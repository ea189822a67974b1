"""API keys never reach the store, reports, exports, logs, error messages or the terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import llmctl
from tests.reliability.helpers import make_project, store

OUTPUTS = ("report.md", "report.xml", "report.json", "report.html", "results.jsonl", "results.csv")
EXPORTS = ("json", "jsonl", "csv", "parquet")


def _artifacts_text(root: Path) -> dict[str, bytes]:
    """Every file under the project except its inputs (store, WAL, reports, exports)."""
    skip = {"llmctl.yaml", "prompts", "evalsets"}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] not in skip
    }


def _everything(root: Path, capsys: pytest.CaptureFixture[str], expect: int) -> str:
    """Run an eval with every --output, then every read command; returns all terminal output."""
    out_args = [a for name in OUTPUTS for a in ("--output", f"out/{name}")]
    code, text = llmctl(root, "eval", "--no-cache", *out_args, capsys=capsys)
    assert code == expect, text
    run_id = store(root).list_runs()[0]["id"]
    for argv in (
        ("runs", "list"),
        ("runs", "list", "--json"),
        ("runs", "show", run_id),
        ("runs", "show", run_id, "--json"),
        *(("runs", "export", run_id, "--format", f, "--output", f"export/run.{f}") for f in EXPORTS),
        ("report", run_id, "--output", "out/again.html", "--output", "out/again.md"),
        ("eval", "--resume", run_id),
    ):
        code, more = llmctl(root, *argv, capsys=capsys)
        assert code in (0, 3), (argv, more)
        text += more
    for f in EXPORTS:
        assert (root / "export" / f"run.{f}").stat().st_size > 0
    return text


@pytest.mark.parametrize(
    ("env_name", "canary", "transport"),
    [
        ("FAKE_API_KEY", "sk-canary-5f2c9d0e7a1b4c3d", "native"),
        # no sk- prefix and an env name that no pattern recognises: only the alias's api_key_env tells
        ("LLM_CREDENTIAL", "canary8c1e55d0b9f24aa7", "native"),
        pytest.param("LLM_CREDENTIAL", "canary8c1e55d0b9f24aa7", "litellm", marks=pytest.mark.slow),
    ],
)
def test_canary_key_never_leaks(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    env_name: str,
    canary: str,
    transport: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LLMCTL_TRANSPORT", transport)
    monkeypatch.setenv(env_name, canary)
    # 1. the server rejects the key and quotes it back in its 401 body, as OpenAI does
    bad = tmp_path / "rejected"
    with FakeOpenAIServer(responses={"question": "yes"}, require_key="sk-the-right-key-000000") as srv:
        make_project(bad, srv.base_url, 5)
        cfg = (bad / "llmctl.yaml").read_text().replace("api_key_env: FAKE_API_KEY", f"api_key_env: {env_name}")
        (bad / "llmctl.yaml").write_text(cfg)
        text = _everything(bad, capsys, expect=3)
        assert srv.statuses.get("401", 0) >= 5
    rows = store(bad).outcomes(store(bad).list_runs()[0]["id"])
    # the 401 body quoted the key back; what was stored has it replaced
    assert all("Incorrect API key provided: ***" in (o.error or "") for o in rows), rows[0].error
    # 2. a successful run with that key
    good = tmp_path / "accepted"
    with FakeOpenAIServer(responses={"question": "yes"}, require_key=canary) as srv:
        make_project(good, srv.base_url, 5)
        cfg = (good / "llmctl.yaml").read_text().replace("api_key_env: FAKE_API_KEY", f"api_key_env: {env_name}")
        (good / "llmctl.yaml").write_text(cfg)
        text += _everything(good, capsys, expect=0)
        assert srv.statuses.get("200", 0) == 5
    assert canary not in text
    assert canary not in caplog.text
    for root in (bad, good):
        files = _artifacts_text(root)
        assert any(name.endswith(".duckdb") for name in files)
        assert len(files) >= len(OUTPUTS) + len(EXPORTS) + 1
        for name, data in files.items():
            assert canary.encode() not in data, f"{name} contains the API key"
