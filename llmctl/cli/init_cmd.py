"""`llmctl init`."""

from __future__ import annotations

from pathlib import Path

import typer


def init(
    directory: Path = typer.Argument(Path("."), help="Where to create the project."),
    requirement: str | None = typer.Option(
        None,
        "--requirement",
        metavar="SPEC",
        help="The llmctl-ci requirement to write to requirements-llmctl.txt "
        "(default: how the running llmctl was installed).",
    ),
    lock: bool = typer.Option(
        False,
        "--lock",
        help="Only refresh requirements-llmctl.lock from requirements-llmctl.txt (needs the package index).",
    ),
    no_lock: bool = typer.Option(False, "--no-lock", help="Do not write requirements-llmctl.lock (offline)."),
) -> None:
    """Scaffold prompts/, evalsets/, llmctl.yaml, a GitHub workflow, requirements-llmctl.txt, its lock and .gitignore.

    requirements-llmctl.txt pins llmctl as the running one was installed (PyPI version, git commit,
    wheel URL with its hash, or a checkout's git remote at HEAD); requirements-llmctl.lock is that
    file resolved with hashes by `uv pip compile --generate-hashes`, which the workflow installs with
    --require-hashes. Fills in the files a partial scaffold lacks; never overwrites a file (a
    .gitignore without `.llmctl/` gets that line appended). `--lock` rewrites only the lock.
    """
    from llmctl.errors import InputError
    from llmctl.install import current_pin, given_pin
    from llmctl.scaffold import LOCK, REQUIREMENTS, requirement_line, scaffold, write_lock

    if lock and (no_lock or requirement is not None):
        raise InputError(
            "--lock refreshes the lock from requirements-llmctl.txt: it takes no --no-lock or --requirement"
        )
    if lock:
        result = write_lock(directory)
        if not result.written:
            typer.echo(f"error: {result.message}", err=True)
            raise typer.Exit(3)
        typer.echo(result.message)
        return
    pin = given_pin(requirement) if requirement is not None else current_pin()
    made = scaffold(directory, pin)
    for path in made.created:
        typer.echo(f"created {path}")
    for path in made.updated:
        typer.echo(f"updated {path} (added .llmctl/)")
    for path in made.kept:
        typer.echo(f"kept    {path} (exists)")
    req_path = directory / REQUIREMENTS
    if req_path in made.created and pin.notice:
        line = requirement_line(req_path.read_text(encoding="utf-8"))
        typer.echo(f"note: {req_path}:{line}: {pin.notice}", err=True)
    elif requirement is not None and req_path in made.kept:
        typer.echo(
            f"note: {req_path} exists and was kept: --requirement not applied (edit it, then llmctl init --lock)"
        )
    lock_path = directory / LOCK
    if not no_lock and not lock_path.exists():
        result = write_lock(directory)
        if result.written:
            typer.echo(f"created {lock_path}")
        else:
            typer.echo(f"warning: {result.message}", err=True)
    elif no_lock and not lock_path.exists():
        typer.echo(f"note: {LOCK} not written (--no-lock); the workflow needs it: llmctl init --lock")
    if not made.created and not made.updated and (lock_path.exists() or no_lock):
        typer.echo("nothing to do: every file of the scaffold exists")
        return
    typer.echo("next: llmctl lint && llmctl eval")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
