"""`llmctl bundle`: the released prompts as one self-contained JSON file."""

from __future__ import annotations

from pathlib import Path

import typer

from llmctl.cli import _common


def bundle(
    output: Path = typer.Option(Path("llmctl-bundle.json"), "--output", "-o", help="Where to write the bundle."),
    label: list[str] = typer.Option(None, "--label", "-l", help="Only the versions this label points at (repeatable)."),
) -> None:
    """Write released prompts (content, includes, hashes, labels) to a JSON bundle.

    Applications load from it without git or a prompts/ folder:
    load_prompt("summarize", label="production", bundle="llmctl-bundle.json")
    """
    from llmctl import release

    cfg = _common.load_config()
    data = release.build_bundle(cfg, list(label or []) or None)
    release.write_bundle(data, output)
    n_releases = sum(len(p["releases"]) for p in data["prompts"].values())
    typer.echo(f"wrote {output}: {len(data['prompts'])} prompt(s), {n_releases} release(s)")


def register(app: typer.Typer) -> None:
    app.command("bundle")(bundle)
