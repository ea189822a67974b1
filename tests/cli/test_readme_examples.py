"""The README's examples cannot drift from the CLI.

Every `llmctl ...` line in a fenced code block of README.md and docs/*.md is parsed by the real
command tree (click's parser, no callback run): an unknown option, a missing argument or a bad
value fails here. The examples that need nothing but this repository (its offline models, its
prompts and evalsets) are also run for real in a copy of it, and must exit 0.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import typer.main

from llmctl.cli.main import app
from tests.cli.conftest import copy_of_this_repo
from tests.e2e.project import llmctl

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _examples() -> list[tuple[str, int, str]]:
    """(file, line, command) for every llmctl line in a fenced block."""
    found = []
    for path in DOCS:
        fence = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                fence = not fence
                continue
            text = line.strip().removeprefix("$ ")
            if fence and re.match(r"llmctl(\s|$)", text):
                found.append((path.name, number, text))
    return found


def _argv(command: str) -> list[str]:
    """The arguments of one example: the comment dropped, `[--opt x]` taken as written,
    `a|b|c` alternatives as the first one, a trailing `...` placeholder filled in."""
    text = command.split("  #", 1)[0].split(" # ", 1)[0]
    text = text.replace("[", "").replace("]", "")
    text = re.sub(r"(\S+?)\|\S+", r"\1", text)
    text = text.replace("=...", "=x")
    argv = shlex.split(text)[1:]  # without "llmctl"
    return [a for a in argv if a != ">" and not a.endswith(".schema.json")]


def _parse(argv: list[str]) -> None:
    cmd: Any = typer.main.get_command(app)
    ctx = cmd.make_context("llmctl", list(argv), resilient_parsing=False)
    with ctx:
        while isinstance(cmd, click.Group):
            name, sub, rest = cmd.resolve_command(ctx, ctx.protected_args + ctx.args)
            assert sub is not None, name
            cmd, ctx = sub, sub.make_context(name or "", rest, parent=ctx)


EXAMPLES = _examples()


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize(("doc", "line", "command"), EXAMPLES, ids=[f"{d}:{n}" for d, n, _ in EXAMPLES])
def test_every_example_parses(doc: str, line: int, command: str) -> None:
    try:
        _parse(_argv(command))
    except click.UsageError as exc:
        pytest.fail(f"{doc}:{line}: `{command}` is not accepted by the CLI: {exc.format_message()}")


# Run for real in a copy of this repository: only what needs no key, no network, no earlier state.
RUNNABLE = [
    "llmctl lint --format text",
    "llmctl lint extract summarize",
    "llmctl schema evalset",
    "llmctl schema config",
    "llmctl eval --dry-run",
    "llmctl eval --limit 20 --case 'refund-*'",
    "llmctl runs list -n 10",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_of_this_repo(tmp_path_factory.mktemp("readme") / "repo")
    code, _ = llmctl(root, "eval", "classify")  # a store for the examples that read one (`runs list`)
    assert code == 0
    return root


def test_runnable_examples_are_in_the_readme() -> None:
    documented = {tuple(_argv(c)) for _, _, c in EXAMPLES}
    missing = [c for c in RUNNABLE if tuple(_argv(c)) not in documented]
    assert not missing, missing


@pytest.mark.parametrize("command", RUNNABLE)
def test_offline_examples_run(
    command: str, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    code, out = llmctl(project, *_argv(command), capsys=capsys)
    assert code == 0, f"`{command}` exited {code}:\n{out[-2000:]}"


def test_render_example_runs(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = llmctl(project, "render", "summarize", "--var", "ticket=My order never arrived", capsys=capsys)
    assert code == 0, out
    assert "My order never arrived" in out
