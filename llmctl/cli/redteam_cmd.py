"""`llmctl redteam`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from llmctl.cli import _common

if TYPE_CHECKING:
    from llmctl.config import Config
    from llmctl.redteam import Redteam


def redteam(
    name: str = typer.Argument(..., help="Prompt name, optionally at a version: support@production"),
    plugins: str = typer.Option(
        None,
        "--plugins",
        help="Comma-separated attack families: injection,jailbreak,system-leak,pii,harmful,encoding (default: all).",
    ),
    n: int = typer.Option(None, "--n", min=1, help="How many cases (default: one per template), drawn by --seed."),
    seed: int = typer.Option(0, "--seed", help="Seed for the draw, markers and requests (same seed, same file)."),
    attacker: str = typer.Option(
        None, "--attacker", help="A model (llmctl.yaml alias or litellm id) that paraphrases each attack."
    ),
    canary: str = typer.Option(
        None, "--canary", help="A string placed in the prompt's system message: system-leak cases fail on any trace."
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Write the evalset here (default: standard output)."),
) -> None:
    """Write an evalset of adversarial cases for a prompt, from the attack corpus shipped with llmctl.

    Cases come from versioned templates (prompt injection, jailbreak framings, system-prompt
    extraction, PII extraction, harmful requests, encoding tricks) applied to the prompt's
    declared inputs; each carries the assertions that define failure. Offline and deterministic
    for a seed; only --attacker calls a model.

    Example: llmctl redteam support --plugins injection,system-leak --n 20 --seed 7 -o evalsets/redteam.yaml
    """
    from llmctl.redteam import generate, parse_plugins
    from llmctl.release import load_prompt_ref

    cfg = _common.load_config()
    prompt = load_prompt_ref(cfg, name)
    result = generate(prompt, plugins=parse_plugins(plugins), n=n, seed=seed, canary=canary)
    if attacker:
        _paraphrase(cfg, result, attacker)
    text = result.to_yaml()
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    _common.err_console().print(f"wrote {len(result.cases)} case(s) to {output}")


def _paraphrase(cfg: Config, result: Redteam, attacker: str) -> None:
    import asyncio

    from llmctl.models import ModelClient, check_credentials, resolve_model
    from llmctl.redteam import paraphrase

    spec = resolve_model(attacker, cfg)
    check_credentials(spec)

    async def run() -> None:
        async with ModelClient(concurrency=8) as client:

            async def complete(messages: list[dict[str, str]]) -> str | None:
                reply = await client.complete(spec, messages, {"temperature": 0.7})
                return reply.output if reply.error is None else None

            await paraphrase(result, complete, attacker)

    asyncio.run(run())


def register(app: typer.Typer) -> None:
    app.command("redteam")(redteam)
