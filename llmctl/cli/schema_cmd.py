"""`llmctl schema`."""

from __future__ import annotations

import typer


def schema(
    kind: str = typer.Argument("all", help="prompt, evalset, config (llmctl.yaml) or all"),
) -> None:
    """Print the JSON Schemas of prompt, evalset and llmctl.yaml files (for editor validation)."""
    from llmctl.cli._common import echo_json
    from llmctl.errors import InputError
    from llmctl.schema import SCHEMAS
    from llmctl.suggest import did_you_mean

    if kind == "all":
        echo_json(SCHEMAS)
    elif kind in SCHEMAS:
        echo_json(SCHEMAS[kind])
    else:
        names = [*SCHEMAS, "all"]
        raise InputError(f"unknown schema {kind!r} (one of: {', '.join(names)})", hint=did_you_mean(kind, names))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
