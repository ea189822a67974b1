"""llmctl.reports._invocation: the reports of an invocation that stored no run."""

from __future__ import annotations

import json
from pathlib import Path

from llmctl.reports._invocation import dry_run_report, skipped_report, write_text_report
from llmctl.run import EvalOutcome


def test_skipped_report_names_every_evalset_escaped(tmp_path: Path) -> None:
    markdown, payload = skipped_report(["qa", "<b>x</b>"], "origin/main")
    assert markdown.startswith("## ✅ llmctl: nothing to evaluate")
    assert "<b>" not in markdown
    assert payload == {"status": "SKIPPED", "baseline": "origin/main", "skipped": ["qa", "<b>x</b>"]}
    for name in ("r.md", "r.json", "r.html", "r.xml"):
        write_text_report(tmp_path / name, markdown, payload)
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "SKIPPED"
    assert (tmp_path / "r.md").read_text() == markdown
    assert "<b>x" not in (tmp_path / "r.html").read_text()
    assert 'name="llmctl SKIPPED" tests="0"' in (tmp_path / "r.xml").read_text()


def test_dry_run_report_counts_calls_and_cost() -> None:
    outcome = EvalOutcome(runs=[])
    outcome.dry_run_cases, outcome.dry_run_tokens, outcome.dry_run_cost = 12, 3400, 0.5
    outcome.dry_run_by_evalset = {"qa": 12}
    outcome.skipped = ["chat"]
    markdown, payload = dry_run_report(outcome, "main")
    assert "| qa | 12 |" in markdown and "12 call(s), about 3,400 prompt token(s)" in markdown
    assert "Not affected by this change (vs main): chat." in markdown
    assert payload["calls"] == 12 and payload["estimated_prompt_cost_usd"] == 0.5 and payload["skipped"] == ["chat"]
