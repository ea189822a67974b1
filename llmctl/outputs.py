"""The output formats of `--output FILE`, by extension: the one list that `llmctl eval`,
`llmctl report` and the report writers read.

A *report* (.md .xml .json .html) is written by llmctl.reports from a run's summary,
verdict and results; *results* (.jsonl .csv) are the results table as `runs export`
writes it. A leaf module (llmctl.errors only), so option checks import nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmctl.errors import InputError

REPORT = "report"
RESULTS = "results"


@dataclass(frozen=True)
class OutputFormat:
    suffix: str  # the canonical extension, e.g. ".md"
    kind: str  # REPORT or RESULTS
    description: str
    aliases: tuple[str, ...] = ()  # other extensions accepted for it

    @property
    def name(self) -> str:
        return self.suffix.lstrip(".")


FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat(".md", REPORT, "Markdown (the PR comment and job summary)", (".markdown",)),
    OutputFormat(".xml", REPORT, "JUnit XML"),
    OutputFormat(".json", REPORT, "JSON report (summary, verdict, results)"),
    OutputFormat(".html", REPORT, "self-contained HTML report", (".htm",)),
    OutputFormat(".jsonl", RESULTS, "results, one JSON object a line"),
    OutputFormat(".csv", RESULTS, "results as CSV"),
)


def register(fmt: OutputFormat) -> None:
    """Add an output format (llmctl.reports.register_report_format adds one with its writer);
    ValueError if its extension or an alias is taken."""
    global FORMATS
    taken = [s for s in (fmt.suffix, *fmt.aliases) if find(s) is not None]
    if taken:
        raise ValueError(f"output format {' '.join(taken)} is already registered")
    FORMATS = (*FORMATS, fmt)


# Spreadsheet formula injection (OWASP "CSV Injection"): a cell that starts with one of these is
# run as a formula by Excel, LibreOffice and Google Sheets. CSV output prefixes such a cell with a
# single quote, so it shows as text.
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A text cell for CSV, neutralised if a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(CSV_FORMULA_PREFIXES) else text


def csv_safe_sql(column: str) -> str:
    """`csv_cell` as a DuckDB SQL expression over a text column (for COPY ... TO csv)."""
    text = 'CAST("' + column.replace('"', '""') + '" AS VARCHAR)'
    return f"CASE WHEN regexp_matches({text}, '^[-=+@\\t\\r]') THEN '''' || {text} ELSE {text} END"


def suffixes(*kinds: str) -> str:
    """The canonical extensions of these kinds (all without any), for messages: `.md .xml .json .html`."""
    return " ".join(f.suffix for f in FORMATS if not kinds or f.kind in kinds)


def find(path: str | Path) -> OutputFormat | None:
    """The format of a file name (or of a bare extension, `.md`), None when unknown."""
    text = str(path)
    bare = text.startswith(".") and text.count(".") == 1 and "/" not in text and "\\" not in text
    suffix = (text if bare else Path(text).suffix).lower()
    return next((f for f in FORMATS if suffix == f.suffix or suffix in f.aliases), None)


def check(path: str | Path, *kinds: str, option: str = "--output") -> OutputFormat:
    """The format of `path`, or an InputError (exit 2) naming the extensions `kinds` accept."""
    found = find(path)
    allowed = kinds or (REPORT, RESULTS)
    if found is None or found.kind not in allowed:
        hint = None
        if found is not None and found.kind == RESULTS:
            hint = f"{suffixes(RESULTS)} files are written by `llmctl eval --output` or `llmctl runs export`"
        raise InputError(f"{option} {path}: unknown format (use {suffixes(*allowed)})", hint=hint)
    return found
