"""`llmctl eval` case selection (--limit, --case, --rerun-failed) and option validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.store import Store
from tests.e2e.project import config, evalset, llmctl, prompt, write


def _project(root: Path, n: int = 20) -> None:
    # echo answers with the question: "question number 1" is in cases 1 and 10-19 only
    write(
        root,
        {
            "llmctl.yaml": config(None),
            "prompts/qa.yaml": prompt("Answer."),
            "evalsets/qa.yaml": evalset("qa", n, expected="question number 1", models=["echo"]),
        },
    )


def _cases(root: Path, run_id: str | None = None) -> list[str]:
    store = Store(root / ".llmctl" / "llmctl.duckdb")
    run_id = run_id or store.list_runs()[0].id
    return sorted(o.case_id for o in store.outcomes(run_id))


def test_limit_and_case_globs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path)
    code, out = llmctl(tmp_path, "eval", "--limit", "3", capsys=capsys)
    assert _cases(tmp_path) == ["case-000", "case-001", "case-002"], out
    code, out = llmctl(tmp_path, "eval", "--case", "case-01*", "--case", "case-005", capsys=capsys)
    assert _cases(tmp_path) == ["case-005", *[f"case-{i:03d}" for i in range(10, 20)]], out
    code, out = llmctl(tmp_path, "eval", "--case", "case-01*", "--limit", "2", capsys=capsys)
    assert _cases(tmp_path) == ["case-010", "case-011"], out
    code, out = llmctl(tmp_path, "eval", "--case", "nothing-*", capsys=capsys)
    assert code == 2 and "no case matches" in out


def test_rerun_failed_runs_only_the_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(tmp_path)
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    first = Store(tmp_path / ".llmctl" / "llmctl.duckdb").list_runs()[0].id
    failed = sorted({f"case-{i:03d}" for i in range(20)} - {"case-001", *[f"case-{i:03d}" for i in range(10, 20)]})
    code, out = llmctl(tmp_path, "eval", "--rerun-failed", first, capsys=capsys)
    runs = Store(tmp_path / ".llmctl" / "llmctl.duckdb").list_runs()
    assert runs[0].id != first and _cases(tmp_path, runs[0].id) == failed, out
    # a run in which nothing failed: nothing to rerun, said so
    code, out = llmctl(tmp_path, "eval", "--case", "case-01*", capsys=capsys)
    passing = Store(tmp_path / ".llmctl" / "llmctl.duckdb").list_runs()[0].id
    code, out = llmctl(tmp_path, "eval", "--rerun-failed", passing, capsys=capsys)
    assert code == 2 and f"no case failed in run {passing}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--deadline", "-5"], "--deadline must be a positive number"),
        (["--deadline", "0"], "--deadline must be a positive number"),
        (["--resume", "r1", "--model", "echo"], "--model cannot change it"),
        (["--resume", "r1", "--limit", "3", "qa"], "EVALSET, --limit cannot change it"),
        (["--limit", "0"], "--limit"),
    ],
)
def test_options_are_validated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    _project(tmp_path)
    code, out = llmctl(tmp_path, "eval", *argv, capsys=capsys)
    assert code == 2 and message in out, out
    assert (
        not (tmp_path / ".llmctl" / "llmctl.duckdb").exists()
        or not Store(tmp_path / ".llmctl" / "llmctl.duckdb").list_runs()
    )
