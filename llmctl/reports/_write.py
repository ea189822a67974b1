"""`write_report`: pick the writer by file extension; `append_step_summary` for GitHub Actions."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llmctl.errors import InputError
from llmctl.gate import Verdict
from llmctl.reports._data import ReportData, SummaryRow
from llmctl.reports.html import render_html
from llmctl.reports.json_report import render_json
from llmctl.reports.junit import render_junit
from llmctl.reports.markdown import render_markdown
from llmctl.types import CaseOutcome

WRITERS: dict[str, Callable[[ReportData], str]] = {
    ".md": render_markdown,
    ".markdown": render_markdown,
    ".xml": render_junit,
    ".json": render_json,
    ".html": render_html,
    ".htm": render_html,
}
RUNNER_FORMATS = (".jsonl", ".csv")


def render_report(fmt: str, data: ReportData) -> str:
    """Render in a format named by extension (".md", "xml", ...)."""
    ext = fmt if fmt.startswith(".") else f".{fmt}"
    writer = WRITERS.get(ext.lower())
    if writer is None:
        raise InputError(
            f"unknown report format {fmt!r}",
            hint="use .md, .xml (JUnit), .json or .html"
            + ("; .jsonl/.csv are written by `llmctl eval`" if ext.lower() in RUNNER_FORMATS else ""),
        )
    return writer(data)


def write_report(
    path: str | Path,
    run: Mapping[str, Any],
    outcomes: list[CaseOutcome],
    verdict: Verdict | None = None,
    summary: list[SummaryRow] | None = None,
) -> Path:
    """Write one report; the format follows the extension (.md .xml .json .html)."""
    target = Path(path)
    data = ReportData(run=dict(run), outcomes=outcomes, verdict=verdict, summary=list(summary or []))
    text = render_report(target.suffix or "?", data)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def append_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append Markdown to `$GITHUB_STEP_SUMMARY` if it is set; returns whether it was written."""
    path = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return True
