"""The commit and branch a run records come from git itself: worktrees and submodules included."""

from __future__ import annotations

import subprocess
from pathlib import Path

from llmctl.run import git_info


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=T", "-c", "protocol.file.allow=always", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _repo(path: Path, branch: str = "main") -> str:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", branch)
    (path / "f.txt").write_text(path.name)
    _git(path, "add", "-A")
    _git(path, "commit", "-qm", "first")
    return _git(path, "rev-parse", "HEAD")


def test_plain_repo_detached_head_and_no_commits(tmp_path: Path) -> None:
    head = _repo(tmp_path / "r")
    assert git_info(tmp_path / "r") == (head, "main")
    _git(tmp_path / "r", "checkout", "-q", "--detach")
    assert git_info(tmp_path / "r") == (head, None)
    (tmp_path / "empty").mkdir()
    _git(tmp_path / "empty", "init", "-q", "-b", "trunk")
    assert git_info(tmp_path / "empty") == (None, "trunk")
    (tmp_path / "none").mkdir()
    assert git_info(tmp_path / "none") == (None, None)


def test_linked_worktree_records_its_own_commit(tmp_path: Path) -> None:
    _repo(tmp_path / "r")
    _git(tmp_path / "r", "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "feature")
    (tmp_path / "wt" / "g.txt").write_text("x")
    _git(tmp_path / "wt", "add", "-A")
    _git(tmp_path / "wt", "commit", "-qm", "on feature")
    assert git_info(tmp_path / "wt") == (_git(tmp_path / "wt", "rev-parse", "HEAD"), "feature")


def test_submodule_records_its_own_commit_not_the_superprojects(tmp_path: Path) -> None:
    sub_head = _repo(tmp_path / "sub")
    _repo(tmp_path / "super")
    _git(tmp_path / "super", "submodule", "add", "-q", str(tmp_path / "sub"), "prompts-repo")
    commit, _branch = git_info(tmp_path / "super" / "prompts-repo")
    assert commit == sub_head
