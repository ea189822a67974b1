"""`write_report`: pick the writer by file extension; `append_step_summary` for GitHub Actions."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from llmctl import outputs
from llmctl.reports._data import ReportData
from llmctl.reports.html import render_html
from llmctl.reports.json_report import render_json
from llmctl.reports.junit import render_junit
from llmctl.reports.markdown import render_markdown
from llmctl.summary import RunSummary
from llmctl.types import CaseOutcome
from llmctl.verdict import Verdict

# the writer of each report format of llmctl.outputs (by its canonical extension)
WRITERS: dict[str, Callable[[ReportData], str]] = {
    ".md": render_markdown,
    ".xml": render_junit,
    ".json": render_json,
    ".html": render_html,
}
assert set(WRITERS) == set(outputs.suffixes(outputs.REPORT).split())


def register_report_format(
    suffix: str, description: str, writer: Callable[[ReportData], str], aliases: tuple[str, ...] = ()
) -> None:
    """Add a report format: its extension (".txt"), a line saying what it is, and its writer
    (a `ReportData` -> the file's text, escaping model outputs for its format). `write_report`,
    `render_report`, `llmctl report -o FILE` and `llmctl eval --output FILE` then write it, in
    the process that registered it. ValueError if the extension is taken."""
    suffix = suffix.lower()
    outputs.register(outputs.OutputFormat(suffix, outputs.REPORT, description, tuple(a.lower() for a in aliases)))
    WRITERS[suffix] = writer


def render_report(fmt: str, data: ReportData) -> str:
    """Render in a report format named by extension (".md", "xml", ...; see llmctl.outputs)."""
    found = outputs.check(fmt if "." in fmt else f".{fmt}", outputs.REPORT, option="report format")
    return WRITERS[found.suffix](data)


def write_report(
    path: str | Path,
    run: Mapping[str, Any],
    outcomes: list[CaseOutcome],
    verdict: Verdict | None = None,
    summary: RunSummary | None = None,
) -> Path:
    """Write one report; the format follows the extension (.md .xml .json .html). `summary`:
    the stored run summary (default: computed from `outcomes`)."""
    target = Path(path)
    data = ReportData(run=dict(run), outcomes=outcomes, verdict=verdict, summary=summary)
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
