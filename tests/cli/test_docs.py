"""Docs that cannot drift: every command is in the README and has help text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from llmctl.cli.main import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, Any]:
    root: Any = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, cmd in root.commands.items():
        found[name] = cmd
        if hasattr(cmd, "commands"):
            for sub, subcmd in cmd.commands.items():
                found[f"{name} {sub}"] = subcmd
    return found


def test_every_command_is_documented_in_the_readme() -> None:
    missing = [name for name in _commands() if f"llmctl {name}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_command_has_help_text() -> None:
    empty = [name for name, cmd in _commands().items() if not (cmd.help or "").strip()]
    assert not empty, f"commands without help text: {empty}"


def test_every_option_has_help_text() -> None:
    missing = []
    for name, cmd in _commands().items():
        for param in cmd.params:
            if getattr(param, "param_type_name", "") == "option" and not (param.help or "").strip():
                missing.append(f"{name} {param.opts[0]}")
    assert not missing, f"options without help: {missing}"
