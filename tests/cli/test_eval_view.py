"""`llmctl eval` over several evalsets prints one summary and one gate table for the invocation."""

from __future__ import annotations

import json
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


def test_failing_cases_are_named_without_a_baseline(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No baseline, nothing flipped: the terminal names the failing case with its reason, counts cases
    (not samples) and says how to see them all; `runs show --failed` lists every one (issue 23 item 3)."""
    path = project / "evalsets/support_agent.yaml"
    path.write_text(path.read_text().replace("value: shipped}", "value: delivered}"))
    code, out = llmctl(project, "eval", "support_agent", "--repeat", "2", capsys=capsys)
    assert code == 1, out
    assert "1 failing case(s) (2 of their 2 samples failed):" in out
    assert "support_agent / demo / where-is-my-order (2/2 samples)" in out
    assert "icontains: expected to contain 'delivered'" in out
    run_id = out.split("run ", 1)[1].split()[0]
    assert f"llmctl runs show {run_id} --failed" in out and f"/runs/{run_id}?filter=failed" in out
    code, out = llmctl(project, "runs", "show", run_id, "--failed", capsys=capsys)
    assert code == 0, out
    assert "where-is-my-order" in out and "icontains: expected to contain 'delivered'" in out
    assert "all of them" not in out  # it is all of them
    code, out = llmctl(project, "runs", "show", run_id, "--failed", "--json", capsys=capsys)
    assert json.loads(out)["failing"][0]["case_id"] == "where-is-my-order"


def test_flipped_counts_cases_not_samples(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """repeat 5, two cases flip in every sample: "2 case(s) (10 samples) flipped", one line per case (item 5)."""
    from llmctl.cli import _common
    from llmctl.cli.eval_view import print_verdict
    from llmctl.config import GateConfig
    from llmctl.gate import compare
    from llmctl.types import CaseOutcome

    def run(bad: set[str]) -> list[CaseOutcome]:
        return [
            CaseOutcome("p", "m", c, r, passed=c not in bad, output="x")
            for c in ("a", "b", "c", "d", "e", "f")
            for r in range(5)
        ]

    monkeypatch.setattr(_common, "_console", None)
    print_verdict(compare(run(set()), run({"a", "b"}), GateConfig(max_drop=0.05)))
    out = capsys.readouterr().out
    assert "2 case(s) (10 samples) flipped pass -> fail:" in out
    assert "p / m / a (5 samples)" in out and out.count("p / m / a") == 1
