"""A latency check that could not run (too few fresh calls) is "skipped" in Markdown and HTML,
as in the terminal, never PASS (issue 22, contract corner 15)."""

from __future__ import annotations

import re

from llmctl.config import GateConfig
from llmctl.gate import compare
from llmctl.reports import ReportData, render_markdown
from llmctl.reports.html import render_html
from tests.reports.report_fixtures import outcome


def _cached_run():
    baseline = [outcome(f"c{i}", True, "refund issued", cached=True) for i in range(10)]
    candidate = [outcome(f"c{i}", True, "refund issued", cached=True) for i in range(10)]
    verdict = compare(baseline, candidate, GateConfig())
    [latency] = [m for m in verdict.metrics if m.metric == "latency_p95"]
    assert latency.passed and latency.baseline is None and latency.candidate is None
    run = {"id": "run-1", "evalset": "triage", "commit": "abc", "baseline": "main"}
    return ReportData(run=run, outcomes=candidate, verdict=verdict), latency.metric


def test_markdown_shows_a_skipped_latency_check_as_skipped() -> None:
    data, _metric = _cached_run()
    md = render_markdown(data)
    [row] = [line for line in md.splitlines() if line.startswith("|") and "| latency\\_p95 |" in line]
    assert row.rstrip().endswith("| skipped |") and "PASS" not in row, row


def test_html_shows_a_skipped_latency_check_as_skipped() -> None:
    data, metric = _cached_run()
    page = render_html(data)
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", page, re.DOTALL) if f"<td>{metric}</td>" in r]
    assert rows and all('class="skipped">skipped</td>' in r and "PASS" not in r for r in rows), rows
