"""`llmctl schema`."""

from __future__ import annotations

import typer


def schema(
    kind: str = typer.Argument("all", help="prompt, evalset or all"),
) -> None:
    """Print the JSON Schemas of prompt and evalset files (for editor validation)."""
    from llmctl.cli._common import echo_json
    from llmctl.errors import InputError
    from llmctl.schema import SCHEMAS

    if kind == "all":
        echo_json(SCHEMAS)
    elif kind in SCHEMAS:
        echo_json(SCHEMAS[kind])
    else:
        raise InputError(f"unknown schema {kind!r} (one of: prompt, evalset, all)")


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
