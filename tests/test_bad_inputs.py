"""The bad-input corpus (tests/bad_inputs/cases.yaml): each case exits 2 with one clear message.

Every case is copied over a minimal project and run through the real CLI
(`llmctl lint` by default, or `llmctl render ...`). The message must name the
file and line where there is one, and no traceback may be printed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmctl.cli import _common
from llmctl.cli.main import app

CORPUS = Path(__file__).parent / "bad_inputs"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))


# --- setups for what cannot be committed as plain files -------------------------------------


def symlink_prompt_outside(project: Path, outside: Path) -> None:
    (outside / "secret.yaml").write_text("template: the secret\n")
    (project / "prompts" / "leak.yaml").symlink_to(outside / "secret.yaml")


def symlink_folder_outside(project: Path, outside: Path) -> None:
    (outside / "secret.yaml").write_text("template: the secret\n")
    (project / "prompts" / "ext").symlink_to(outside, target_is_directory=True)


def symlink_source_outside(project: Path, outside: Path) -> None:
    (outside / "rows.csv").write_text("x\nsecret\n")
    (project / "evalsets" / "data").mkdir(parents=True, exist_ok=True)
    (project / "evalsets" / "data" / "rows.csv").symlink_to(outside / "rows.csv")


def _fake_git_dir(project: Path) -> None:
    (project / ".git").mkdir(exist_ok=True)
    (project / ".git" / "config").write_text(
        '[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW4=\n'
    )


def _include_prompt(project: Path, partial: str) -> None:
    (project / "prompts" / "partials").mkdir(parents=True, exist_ok=True)
    (project / "prompts" / "p.yaml").write_text(f"template: '{{% include \"partials/{partial}\" %}}'\n")


def symlink_include_git_config(project: Path, outside: Path) -> None:
    _fake_git_dir(project)
    _include_prompt(project, "gc.jinja")
    (project / "prompts" / "partials" / "gc.jinja").symlink_to("../../.git/config")


def symlink_include_dotenv(project: Path, outside: Path) -> None:
    (project / ".env").write_text("OPENAI_API_KEY=sk-secret\n")
    _include_prompt(project, "env.jinja")
    (project / "prompts" / "partials" / "env.jinja").symlink_to("../../.env")


def symlink_folder_to_project(project: Path, outside: Path) -> None:
    (project / "leak.yaml").write_text("template: the project root\n")
    (project / "prompts" / "cfg").symlink_to("..", target_is_directory=True)


def symlink_source_git(project: Path, outside: Path) -> None:
    _fake_git_dir(project)
    (project / "prompts" / "p.yaml").write_text("template: '{{ x }}'\ninputs: {x: {type: string}}\n")
    (project / "evalsets" / "e.yaml").write_text("prompt: p\nsource: {path: data/rows.csv, columns: {vars: [x]}}\n")
    (project / "evalsets" / "data").mkdir(parents=True, exist_ok=True)
    (project / "evalsets" / "data" / "rows.csv").symlink_to("../../.git/config")


def symlink_evalset_dotenv(project: Path, outside: Path) -> None:
    (project / ".env").write_text("prompt: p\ncases: [{vars: {}}]\n")
    (project / "evalsets" / "e.yaml").symlink_to("../.env")


def alias_bomb(project: Path, outside: Path) -> None:
    lines = ["template: hi", "metadata:", "  l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"  l{i}: &l{i} [{refs}]")
    (project / "prompts" / "bomb.yaml").write_text("\n".join(lines) + "\n")


def store_not_duckdb(project: Path, outside: Path) -> None:
    (project / ".llmctl").mkdir()
    (project / ".llmctl" / "llmctl.duckdb").write_text("this is not a database\n")


def store_from_newer_schema(project: Path, outside: Path) -> None:
    import duckdb

    (project / ".llmctl").mkdir()
    con = duckdb.connect(str(project / ".llmctl" / "llmctl.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER, applied_at TIMESTAMP)")
    con.execute("INSERT INTO schema_migrations VALUES (999, now())")
    # a newer llmctl's store carries llmctl's marker, like every store it writes
    from llmctl.store._schema import MARKER

    con.execute("CREATE TABLE llmctl_store (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO llmctl_store VALUES (?, ?)", list(MARKER))
    con.close()


def git_repo(project: Path, outside: Path) -> None:
    import subprocess

    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "initial"]):
        subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True)


SETUPS: dict[str, Callable[[Path, Path], None]] = {
    "store_not_duckdb": store_not_duckdb,
    "store_from_newer_schema": store_from_newer_schema,
    "git_repo": git_repo,
    "symlink_prompt_outside": symlink_prompt_outside,
    "symlink_folder_outside": symlink_folder_outside,
    "symlink_source_outside": symlink_source_outside,
    "alias_bomb": alias_bomb,
    "symlink_include_git_config": symlink_include_git_config,
    "symlink_include_dotenv": symlink_include_dotenv,
    "symlink_folder_to_project": symlink_folder_to_project,
    "symlink_source_git": symlink_source_git,
    "symlink_evalset_dotenv": symlink_evalset_dotenv,
}


# --- helpers ---------------------------------------------------------------------------------


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "prompts").mkdir(parents=True)
    (project / "evalsets").mkdir()
    (project / "llmctl.yaml").write_text("default_models: [echo]\n")
    return project


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setattr(_common, "DEBUG", False)
    code = _common.invoke(app, argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- the corpus ------------------------------------------------------------------------------


def test_corpus_is_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 30
    for case in CASES:
        assert {"id", "exit", "message", "where"} <= set(case), case
        # A case's folder is optional: without one (or a setup) it runs on the bare project.
        if case.get("setup"):
            assert case["setup"] in SETUPS, case


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = CORPUS / case["id"]
    if folder.is_dir():
        shutil.copytree(folder, project, dirs_exist_ok=True)
    if case.get("setup"):
        SETUPS[case["setup"]](project, outside)
    monkeypatch.chdir(project)

    code, output = run_cli(list(case.get("run", ["lint"])), capsys, monkeypatch)

    assert code == case["exit"], output
    assert "Traceback" not in output
    assert case["message"] in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    # One problem, one line (plus an optional hint).
    body = [line for line in output.splitlines() if line.strip() and not line.startswith("  hint:")]
    assert len(body) == 1, output
    where = case["where"]
    if where:
        expected = where if where.endswith(":") else where + ":"
        assert expected in errors[0], output
        # Where a line is expected, it is a number: `file:LINE: message`.
        if where.endswith(":") and where.count(":") == 1:
            after = errors[0].split(where, 1)[1]
            assert after.split(":", 1)[0].isdigit(), output


def test_huge_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    huge = project / "prompts" / "huge.yaml"
    chunk = b"# " + b"x" * 1021 + b"\n"
    with huge.open("wb") as f:
        f.write(b"template: hi\n")
        for _ in range(51 * 1024):
            f.write(chunk)
    assert huge.stat().st_size > 50 * 1024 * 1024
    monkeypatch.chdir(project)

    code, output = run_cli(["lint"], capsys, monkeypatch)

    assert code == 2
    assert "prompts/huge.yaml: file is too large" in output
    assert "Traceback" not in output
    os.remove(huge)
