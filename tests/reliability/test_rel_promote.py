"""`llmctl promote` killed between its steps is finished or rolled back; two promotes never interleave.

The kills are real: a `git` wrapper (GIT_PYTHON_GIT_EXECUTABLE) sends SIGKILL to the
llmctl process just before or just after one git subcommand.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmctl.release import lockfile as lf
from tests.gitrepo import GIT_ENV, GitRepo, evaluate, git_env, make_project
from tests.reliability.helpers import run_cli, sub_env

SHIM = """#!/bin/sh
sub="$1"
if [ "$sub" = "$KILL_BEFORE" ]; then kill -9 "$PPID"; sleep 5; exit 1; fi
if [ "$sub" = "$SLOW" ]; then sleep 1.5; fi
"$REAL_GIT" "$@"
rc=$?
if [ "$sub" = "$KILL_AFTER" ]; then kill -9 "$PPID"; sleep 5; fi
exit $rc
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    git_env(monkeypatch)
    repo = make_project(tmp_path / "proj")
    evaluate(repo.root)  # a passing run of summarize, so promote's gate passes
    return repo


def _promote(repo: GitRepo, *argv: str, **faults: str) -> subprocess.CompletedProcess[str]:
    shim = repo.root.parent / "git-shim"
    if not shim.exists():
        shim.write_text(SHIM)
        shim.chmod(0o755)
    real = shutil.which("git")
    assert real is not None
    env = sub_env(**GIT_ENV, GIT_PYTHON_GIT_EXECUTABLE=str(shim), REAL_GIT=real, **faults)
    return run_cli(repo.root, "promote", *argv, env=env)


def _promotions(repo: GitRepo) -> list[str]:
    return [line.split(" ", 1)[1] for line in repo.log() if " llmctl: promote " in line]


def _assert_clean_release(repo: GitRepo, labels: dict[str, str]) -> None:
    lock = lf.load(repo.root / "prompts/llmctl.lock")
    entry = lock.prompts["summarize"]
    assert {name: label.version for name, label in entry.labels.items()} == labels
    assert repo.tags() == ["summarize/v1"]
    assert repo.git("rev-list", "-n1", "summarize/v1") == entry.releases["v1"].commit
    assert repo.status() == "", "the work tree or index was left dirty"
    assert not (repo.root / ".git" / "llmctl-promote.json").exists()
    assert not list((repo.root / "prompts").glob(".llmctl.lock.*"))


def test_killed_between_commit_and_tag_is_finished_by_the_next_promote(project: GitRepo) -> None:
    killed = _promote(project, "summarize", "--to", "production", KILL_AFTER="commit")
    assert killed.returncode == -9, killed.stderr
    assert _promotions(project) == ["llmctl: promote summarize v1 to production"]
    assert project.tags() == [], "the kill came after the tag"
    done = _promote(project, "summarize", "--to", "production")
    assert done.returncode == 0, done.stderr
    assert "finished an interrupted promotion of summarize v1 to production" in done.stdout
    assert "tagged summarize/v1 now" in done.stdout
    assert _promotions(project) == ["llmctl: promote summarize v1 to production"]
    _assert_clean_release(project, {"production": "v1"})


@pytest.mark.parametrize("fault", [{"KILL_BEFORE": "add"}, {"KILL_AFTER": "add"}, {"KILL_BEFORE": "commit"}], ids=str)
def test_killed_before_the_commit_is_rolled_back_by_the_next_promote(project: GitRepo, fault: dict[str, str]) -> None:
    head = project.head()
    killed = _promote(project, "summarize", "--to", "production", **fault)
    assert killed.returncode == -9, killed.stderr
    assert project.head() == head
    assert project.status() != "", "the kill left nothing to recover (the test did not kill mid-way)"
    done = _promote(project, "summarize", "--to", "staging")
    assert done.returncode == 0, done.stderr
    assert "rolled back an interrupted promotion of summarize v1 to production" in done.stdout
    assert "Released summarize v1" in done.stdout
    assert _promotions(project) == ["llmctl: promote summarize v1 to staging"]
    _assert_clean_release(project, {"staging": "v1"})


def test_a_temp_file_of_a_killed_lockfile_save_does_not_block_promote(project: GitRepo) -> None:
    (project.root / "prompts" / ".llmctl.lock.k2j3h4.tmp").write_text("# llmctl lockfile: half wri")
    done = _promote(project, "summarize", "--to", "production")
    assert done.returncode == 0, done.stderr
    _assert_clean_release(project, {"production": "v1"})


def test_two_concurrent_promotes_do_not_interleave(project: GitRepo) -> None:
    shim_env = {"SLOW": "commit"}  # each commit takes 1.5 s: without the lock the two overlap
    _promote(project, "--help")  # writes the shim
    real = shutil.which("git")
    assert real is not None
    env = sub_env(**GIT_ENV, GIT_PYTHON_GIT_EXECUTABLE=str(project.root.parent / "git-shim"), REAL_GIT=real, **shim_env)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "llmctl.cli.main", "promote", "summarize", "--to", label],
            cwd=project.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label in ("production", "staging")
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sorted(_promotions(project)) == [
        "llmctl: promote summarize v1 to production",
        "llmctl: promote summarize v1 to staging",
    ]
    _assert_clean_release(project, {"production": "v1", "staging": "v1"})
