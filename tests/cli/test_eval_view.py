"""`llmctl eval` over several evalsets prints one summary and one gate table for the invocation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import copy_of_this_repo
from tests.e2e.project import llmctl


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return copy_of_this_repo(tmp_path / "repo")


def test_one_summary_and_one_gate_table_per_invocation(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = llmctl(project, "eval", "classify", "extract", "summarize", capsys=capsys)
    assert code == 0, out
    assert out.count("evalset / prompt / model") == 1  # one summary table, a row per evalset
    for row in ("classify / classify / demo", "extract / extract_order / demo", "summarize / summarize / demo"):
        assert row in out
    assert out.count("┃ group") == 1  # one gate table
    assert "extract: extract_order × demo" in out  # rows name their evalset
    # a note every evalset shares is said once
    assert out.count("No baseline: only absolute floors (min_pass_rate) were applied.") == 1
    assert out.count("gate PASSED") == 1


def test_one_evalset_keeps_its_run_title(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = llmctl(project, "eval", "classify", capsys=capsys)
    assert code == 0, out
    assert "classify  run r" in out and "evalset / prompt / model" not in out
