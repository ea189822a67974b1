"""`llmctl report`."""

from __future__ import annotations

from pathlib import Path

import typer

from llmctl.cli import _common


def report(
    run: str = typer.Argument(..., help="Run id (or a unique prefix); 'latest': every run of the newest eval."),
    output: list[Path] = typer.Option(
        ..., "--output", "-o", help="report.md, report.xml (JUnit), report.json or report.html; repeatable."
    ),
) -> None:
    """Write a Markdown, JUnit XML, JSON or self-contained HTML report of a stored run.

    Example: llmctl report latest -o report.html -o report.xml
    """
    from llmctl import outputs
    from llmctl.errors import InputError
    from llmctl.reports import write_report
    from llmctl.reports._invocation import combined_report
    from llmctl.store import Store
    from llmctl.verdict import Verdict

    cfg = _common.load_config()
    if not cfg.store_exists():
        raise InputError(f"no store at {cfg.store_label} yet", hint="run llmctl eval first")
    store = Store(cfg.store_location)
    for path in output:
        outputs.check(path, outputs.REPORT)
    # `latest` is the newest `llmctl eval`: every evalset it ran, as its own report did.
    run_ids = store.invocation_runs("latest") if run in ("latest", "last") else [store.get_run(run).id]
    runs: list[tuple[str, Verdict | None]] = []
    for run_id in run_ids:
        stored = (store.get_run(run_id).summary_json or {}).get("verdict")
        runs.append((run_id, Verdict.from_dict(stored) if isinstance(stored, dict) and stored else None))
    meta, outcomes, verdict, summary = combined_report(store, runs, cfg.root)
    for path in output:
        write_report(path, meta, outcomes, verdict, summary)
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
