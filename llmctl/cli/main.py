"""Entry point: wires the command modules together and maps errors to exit codes.

Heavy libraries (litellm, datasets, evaluate, duckdb) are imported inside the
commands that need them, so `llmctl --help`, `render` and `lint` start fast.
"""

from __future__ import annotations

import os
import sys

import typer

from llmctl import __version__
from llmctl.cli import _common

app = typer.Typer(
    name="llmctl",
    help="Prompt versioning and LLM evaluation in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from llmctl.install import version_line

        typer.echo(version_line(__version__))
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version (and the commit, when installed from git).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Prompt versioning and LLM evaluation in CI.

    Prompts live in prompts/, evalsets in evalsets/, settings in llmctl.yaml.
    Exit codes: 0 ok, 1 a gate failed, 2 usage or input error, 3 provider failures.
    """
    if debug:
        _common.DEBUG = True


def _register() -> None:
    from llmctl.cli import (
        bundle_cmd,
        comment_cmd,
        diff_cmd,
        eval_cmd,
        init_cmd,
        judge_cmd,
        labels_cmd,
        lint_cmd,
        log_cmd,
        monitor_cmd,
        promote_cmd,
        redteam_cmd,
        render_cmd,
        report_cmd,
        runs_cmd,
        schema_cmd,
        store_cmd,
        traces_cmd,
        view_cmd,
    )

    for module in (
        init_cmd,
        render_cmd,
        lint_cmd,
        schema_cmd,
        eval_cmd,
        diff_cmd,
        promote_cmd,
        log_cmd,
        runs_cmd,
        store_cmd,
        report_cmd,
        bundle_cmd,
        comment_cmd,
        redteam_cmd,
        labels_cmd,
        judge_cmd,
        view_cmd,
        traces_cmd,
        monitor_cmd,
    ):
        module.register(app)


_register()


def run() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    if "--debug" in argv:  # accepted anywhere on the line, not only before the command
        _common.DEBUG = True
        argv = [a for a in argv if a != "--debug"]
    if os.environ.get("LLMCTL_DEBUG"):
        _common.DEBUG = True
    sys.exit(_common.invoke(app, argv))


if __name__ == "__main__":
    run()
