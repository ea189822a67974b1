"""`llmctl report`."""

from __future__ import annotations

from pathlib import Path

import typer

from llmctl.cli import _common


def report(
    run: str = typer.Argument(..., help="Run id (or a unique prefix); 'latest' for the newest run."),
    output: list[Path] = typer.Option(
        ..., "--output", "-o", help="report.md, report.xml (JUnit), report.json or report.html; repeatable."
    ),
) -> None:
    """Write a Markdown, JUnit XML, JSON or self-contained HTML report of a stored run.

    Example: llmctl report latest -o report.html -o report.xml
    """
    from llmctl.errors import InputError
    from llmctl.gate import Verdict
    from llmctl.reports import write_report
    from llmctl.store import Store

    cfg = _common.load_config()
    if not cfg.store_path.exists():
        raise InputError(f"no store at {cfg.store_path} yet", hint="run llmctl eval first")
    store = Store(cfg.store_path)
    if run == "latest":
        runs = store.list_runs(limit=1)
        if not runs:
            raise InputError("the store has no runs yet")
        run = runs[0]["id"]
    info = store.get_run(run)
    summary = info.get("summary") or {}
    verdict = Verdict.from_dict(summary["verdict"]) if summary.get("verdict") else None
    outcomes = store.outcomes(info["id"])
    for path in output:
        if path.suffix.lower() not in (".md", ".xml", ".json", ".html"):
            raise InputError(f"--output {path}: unknown report format (use .md .xml .json .html)")
        write_report(path, info, outcomes, verdict)
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
