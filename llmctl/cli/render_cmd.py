"""`llmctl render`."""

from __future__ import annotations

from pathlib import Path

import typer

from llmctl.cli import _common


def render(
    name: str = typer.Argument(..., help="Prompt name, optionally at a version: summarize@production"),
    var: list[str] = typer.Option(None, "--var", "-v", help="A variable, KEY=VALUE (repeatable)."),
    vars_file: Path = typer.Option(None, "--vars-file", help="A YAML/JSON file of variables."),
    as_json: bool = typer.Option(False, "--json", help="Print the messages as JSON."),
) -> None:
    """Print the rendered messages of a prompt.

    An image input (--var photo=evalsets/images/cat.png) is a path relative to the project
    inside evalsets/, an http(s) URL or a data URL; the text output shows a placeholder for
    it, --json the content part as sent (a file as a base64 data URL).

    Example: llmctl render summarize --var ticket="My order never arrived"
    """
    from llmctl.cli._common import coerce_cli_vars, echo_json, parse_vars
    from llmctl.images import ImageLoader, content_text
    from llmctl.release import load_prompt_ref

    cfg = _common.load_config()
    prompt = load_prompt_ref(cfg, name)
    values = parse_vars(var, vars_file)
    cli_keys = {pair.partition("=")[0].strip() for pair in var or []}
    root = cfg.root.resolve()
    loader = ImageLoader(base=root, root=root, within=cfg.evalsets_dir, file="--var")
    messages = prompt.render(coerce_cli_vars(prompt.inputs, values, cli_keys), image_loader=loader)
    if as_json:
        echo_json(
            {
                "prompt": prompt.name,
                "version": prompt.hash,
                "model": prompt.model,
                "params": prompt.params,
                "messages": messages,
            }
        )
        return
    out = []
    for msg in messages:
        out.append(f"[{msg['role']}]\n{content_text(msg['content'])}\n")
    typer.echo("\n".join(out).rstrip("\n"))


def register(app: typer.Typer) -> None:
    app.command("render")(render)
