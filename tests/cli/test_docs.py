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


def _docs_text() -> str:
    root = Path(__file__).resolve().parents[2]
    parts = [README]
    docs = root / "docs"
    if docs.is_dir():
        parts += [p.read_text(encoding="utf-8") for p in sorted(docs.rglob("*.md"))]
    return "\n".join(parts)


def test_every_option_is_documented_in_the_readme_or_docs() -> None:
    """Each option's long name appears in README.md or docs/*.md (help text alone is not documentation)."""
    text = _docs_text()
    missing = []
    for name, cmd in _commands().items():
        for param in cmd.params:
            if getattr(param, "param_type_name", "") != "option":
                continue
            longs = [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
            if longs and not any(o in text for o in longs) and longs[0] != "--help":
                missing.append(f"{name} {longs[0]}")
    assert not missing, f"options missing from README.md and docs/: {missing}"
