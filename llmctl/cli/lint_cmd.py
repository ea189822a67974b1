"""`llmctl lint`."""

from __future__ import annotations

import typer

from llmctl.cli import _common
from llmctl.errors import EXIT_USAGE, MultipleErrors

FORMATS = ("text", "github", "json")


def lint(
    evalsets: list[str] = typer.Argument(
        None, help="Evalset names or files to check, as `eval` takes them (default: all in evalsets/)."
    ),
    fmt: str = typer.Option(
        "text",
        "--format",
        help="text (file:line: message), github (::error annotations for GitHub Actions) or json.",
    ),
) -> None:
    """Validate every prompt and evalset; print each problem as file:line: message.

    Checks what `eval` would reject: unknown keys, wrong types, undeclared
    template variables, includes outside prompts/, unknown evaluators and bad
    options, unknown model aliases, duplicate case ids, variables a case does
    not provide, checks with neither a `value` nor the case's `expected`.
    Misspelled names get a "did you mean" hint. Exits 2 if anything is wrong.
    """
    from llmctl.errors import InputError
    from llmctl.lint import lint_project
    from llmctl.safetext import terminal_safe

    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    cfg = _common.load_config()
    report = lint_project(cfg, list(evalsets) if evalsets else None)
    if fmt == "json":
        _common.echo_json(
            {
                "ok": report.ok,
                "prompts": report.prompts,
                "evalsets": report.evalsets,
                "problems": [
                    {"file": p.file, "line": p.line, "message": p.message, "hint": p.hint} for p in report.problems
                ],
                "warnings": [
                    {"file": p.file, "line": p.line, "message": p.message, "hint": p.hint} for p in report.warnings
                ],
            }
        )
        if not report.ok:
            raise typer.Exit(EXIT_USAGE)
        return
    if fmt == "github":
        from llmctl.github import annotation

        for p in report.problems:
            message = p.message + (f" (hint: {p.hint})" if p.hint else "")
            typer.echo(annotation(message, file=p.file, line=p.line))
        for p in report.warnings:
            message = p.message + (f" (hint: {p.hint})" if p.hint else "")
            typer.echo(annotation(message, file=p.file, line=p.line, level="warning"))
    else:
        for p in report.warnings:
            typer.echo(terminal_safe(p.located()), err=True)
    if not report.ok:
        raise MultipleErrors(report.problems)
    typer.echo(f"ok: {report.prompts} prompt(s), {report.evalsets} evalset(s)")


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)
