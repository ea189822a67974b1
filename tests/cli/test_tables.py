"""Terminal tables at 80 and 60 columns never cut a number, a metric name or a header word: they wrap
between words or leave whole columns out and say which (issue 23 item 4). Checked on the table
helper itself, and on `llmctl eval` piped (COLUMNS) and in a real terminal (tmux, no COLUMNS)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from llmctl.cli._tables import Column, print_table
from tests.cli.conftest import copy_of_this_repo
from tests.cli.tmux import HAVE_TMUX, Terminal
from tests.gitrepo import git_env

BIN = Path(sys.executable).parent / "llmctl"
VALUES = ["pass_rate", "pass_rate[judge]", "$0.012/1k", "4,000 ms", "[64.6%, 100.0%]", "≥ 80.0%", "0.032"]


def _render(width: int) -> tuple[str, list[str]]:
    out = io.StringIO()
    console = Console(file=out, width=width, highlight=False, color_system=None)
    columns = [
        Column("group", fold=True),
        Column("metric"),
        Column("baseline", drop=2),
        Column("candidate"),
        Column("delta", drop=3),
        Column("interval", drop=5),
        Column("p", drop=6),
        Column("threshold", drop=4),
        Column("verdict"),
    ]
    cells = ["$0.012/1k", "4,000 ms", "+1.5 pts", "[64.6%, 100.0%]", "0.032", "≥ 80.0%", "PASS"]
    rows = [
        ["support/triage × openai/gpt-4o-mini", m, *cells] for m in ("pass_rate", "pass_rate[judge]", "cost_per_case")
    ]
    dropped = print_table(console, columns, rows, title="gate")
    return out.getvalue(), dropped


def _check_uncut(text: str, width: int, words: list[str]) -> None:
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    assert "…" not in text, text
    for word in words:  # each whole, on one line
        assert any(word in line for line in lines), (word, text)


@pytest.mark.parametrize("width", [80, 60])
def test_print_table_never_cuts_a_value(width: int) -> None:
    text, dropped = _render(width)
    table = text.split("not shown at")[0]
    shown = [w for w in ("pass_rate[judge]", "cost_per_case", "$0.012/1k", "4,000", "PASS") if w in table]
    _check_uncut(text, width, ["pass_rate[judge]", "cost_per_case", "PASS", *shown])
    assert dropped and f"not shown at {width} columns: {', '.join(dropped)}" in " ".join(text.split())
    assert "p" in dropped and "interval" in dropped  # the least useful go first
    assert "metric" not in dropped and "verdict" not in dropped and "candidate" not in dropped


def test_a_wide_terminal_drops_nothing() -> None:
    text, dropped = _render(200)
    assert dropped == [] and "not shown" not in text
    _check_uncut(text, 200, VALUES)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    return copy_of_this_repo(tmp_path / "repo")


ARGS = ["eval", "summarize", "classify", "--baseline", "HEAD", "--verbose"]
NAMES = ["pass_rate[levenshtein]", "pass_rate[contains]", "mean_score[judge]", "cost_per_case", "min_pass_rate"]


def _check_eval_output(text: str, width: int) -> None:
    _check_uncut(text, width, NAMES)
    assert "not shown at" in text  # and it says which columns it left out


@pytest.mark.parametrize("width", [80, 60])
def test_eval_piped_at_narrow_columns(project: Path, width: int) -> None:
    env = {**os.environ, "COLUMNS": str(width)}
    proc = subprocess.run(
        [str(BIN), *ARGS], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _check_eval_output(proc.stdout, width)


@pytest.mark.skipif(not HAVE_TMUX, reason="tmux is not installed")
@pytest.mark.parametrize("width", [80, 60])
def test_eval_in_a_real_terminal(project: Path, width: int, tmp_path: Path) -> None:
    """A tmux window `width` columns wide, no COLUMNS: rich reads the terminal's own size."""
    term = Terminal(f"tables-{width}", width)
    done = tmp_path / "done"
    term.start(project, [str(BIN), *ARGS], done)
    try:
        deadline = time.monotonic() + 120
        while not done.exists():
            assert time.monotonic() < deadline, "llmctl eval did not finish in tmux"
            time.sleep(0.2)
        screen = term.screen()
    finally:
        term.close()
    _check_eval_output(screen.rstrip("\n"), width)
