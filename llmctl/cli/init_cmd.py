"""`llmctl init`."""

from __future__ import annotations

from pathlib import Path

import typer


def init(
    directory: Path = typer.Argument(Path("."), help="Where to create the project."),
) -> None:
    """Scaffold prompts/, evalsets/, llmctl.yaml, a GitHub workflow, requirements-llmctl.txt and .gitignore.

    Fills in the files a partial scaffold lacks; never overwrites a file (a .gitignore
    without `.llmctl/` gets that line appended).
    """
    from llmctl.scaffold import scaffold

    result = scaffold(directory)
    for path in result.created:
        typer.echo(f"created {path}")
    for path in result.updated:
        typer.echo(f"updated {path} (added .llmctl/)")
    for path in result.kept:
        typer.echo(f"kept    {path} (exists)")
    if not result.created and not result.updated:
        typer.echo("nothing to do: every file of the scaffold exists")
        return
    typer.echo("next: llmctl lint && llmctl eval")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
