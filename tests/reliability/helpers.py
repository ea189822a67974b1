"""Helpers shared by the reliability tests: projects on the fake server, subprocess runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from llmctl.store import Store
from tests.e2e.project import config, evalset, prompt, write

STORE = ".llmctl/llmctl.duckdb"


def make_project(
    root: Path,
    base_url: str,
    n: int,
    *,
    retries: int = 2,
    timeout: float = 5,
    concurrency: int = 8,
    user: str = "{{ question }}",
    expected: str = "yes",
    extra_cfg: dict[str, Any] | None = None,
    extra_evalset: dict[str, Any] | None = None,
) -> None:
    cfg = config(base_url, retries=retries, concurrency=concurrency, **(extra_cfg or {}))
    cfg["models"]["fake"]["timeout"] = timeout
    write(
        root,
        {
            "llmctl.yaml": cfg,
            "prompts/qa.yaml": prompt("Answer briefly.", user),
            "evalsets/qa.yaml": evalset("qa", n, expected=expected, **(extra_evalset or {})),
        },
    )


def store(root: Path) -> Store:
    return Store(root / STORE)


def question(i: int) -> str:
    """The last user message the server sees for case i (see tests.e2e.project.evalset)."""
    return f"question number {i}"


def result_rows(root: Path, run_id: str) -> list[tuple[Any, ...]]:
    """(result_key, case_id, error, retries, n_scores) for every stored result of a run."""
    return store(root)._db.run(
        lambda con: con.execute(
            "SELECT r.result_key, r.case_id, r.error, r.retries, "
            "(SELECT count(*) FROM scores s WHERE s.run_id = r.run_id AND s.result_key = r.result_key) "
            "FROM results r WHERE r.run_id = ? ORDER BY r.case_id",
            [run_id],
        ).fetchall(),
        read_only=True,
    )


def sub_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LLMCTL_DB", "GITHUB_STEP_SUMMARY")}
    env.update({"FAKE_API_KEY": "sk-test-not-a-real-key", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    env.update(extra)
    return env


def popen_eval(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`llmctl eval ARGV` as a child process in `root` (stdout/stderr piped, text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "llmctl.cli.main", "eval", *argv],
        cwd=root,
        env=env or sub_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(
    root: Path, *argv: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`llmctl ARGV` as a child process in `root`; returns the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "llmctl.cli.main", *argv],
        cwd=root,
        env=env or sub_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
