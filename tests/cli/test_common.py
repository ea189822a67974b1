"""Terminal width: COLUMNS is honoured, and output to a log or pipe is not hard-wrapped."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.cli._common import _width


def test_columns_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "77")
    assert _width(True) == 77 and _width(False) == 77


def test_pipes_are_not_wrapped_and_terminals_use_their_width(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("", "0", "wide", "-3"):
        monkeypatch.setenv("COLUMNS", bad)
        assert _width(False) == 1000
        assert _width(True) is None
    monkeypatch.delenv("COLUMNS")
    assert _width(False) == 1000


def test_piped_tables_keep_long_cells_on_one_line_and_columns_narrows_them(tmp_path: Path) -> None:
    """End to end: `llmctl runs show` into a pipe (no TTY) prints a 150-character prompt name
    inside one table row; with COLUMNS=80 the same table fits 80 columns."""
    import os
    import subprocess
    import sys

    from tests.e2e.project import config, evalset, llmctl, prompt, write

    name = "p" + "-very-long-prompt-name" * 7  # 155 characters
    ev = evalset(name, 2, models=["echo"], expected="question")
    write(tmp_path, {"llmctl.yaml": config(), f"prompts/{name}.yaml": prompt("Answer."), "evalsets/qa.yaml": ev})
    code, _ = llmctl(tmp_path, "eval")
    assert code == 0

    def show(**env: str) -> list[str]:
        base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "LLMCTL_DB")}
        out = subprocess.run(
            [sys.executable, "-m", "llmctl.cli.main", "runs", "show", "latest"],
            cwd=tmp_path,
            env={**base, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.splitlines()

    piped = show()
    assert any(f"{name} / echo" in line and line.count("│") >= 9 for line in piped), "\n".join(piped)
    narrow = show(COLUMNS="80")
    table = [line for line in narrow if line[:1] in "┏┃┡│└"]
    assert len(table) > 5 and max(len(line) for line in table) <= 80 and not any(name in line for line in narrow)
