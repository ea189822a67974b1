"""`llmctl lint`."""

from __future__ import annotations

import typer

from llmctl.cli import _common
from llmctl.errors import MultipleErrors


def lint() -> None:
    """Validate every prompt and evalset; print each problem as file:line: message.

    Checks unknown keys, wrong types, undeclared template variables, includes
    outside prompts/, unknown evaluators and bad options, duplicate case ids.
    Exits 2 if anything is wrong.
    """
    from llmctl.lint import lint_project

    cfg = _common.load_config()
    report = lint_project(cfg)
    if not report.ok:
        raise MultipleErrors(report.problems)
    typer.echo(f"ok: {report.prompts} prompt(s), {report.evalsets} evalset(s)")


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)
