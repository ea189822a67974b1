"""`llmctl init`."""

from __future__ import annotations

from pathlib import Path

import typer


def init(
    directory: Path = typer.Argument(Path("."), help="Where to create the project."),
) -> None:
    """Scaffold prompts/, evalsets/, llmctl.yaml and a GitHub workflow (never overwrites)."""
    from llmctl.scaffold import scaffold

    created = scaffold(directory)
    for path in created:
        typer.echo(f"created {path}")
    typer.echo("next: llmctl lint && llmctl eval")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
