"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.project import git
from tests.gitrepo import GitRepo, git_env, make_project

ROOT = Path(__file__).resolve().parents[2]


def copy_of_this_repo(root: Path) -> Path:
    """This repository's prompts, evalsets and llmctl.yaml (its offline models), committed in a
    new git repository at `root`."""
    shutil.copytree(ROOT / "prompts", root / "prompts")
    shutil.copytree(ROOT / "evalsets", root / "evalsets")
    shutil.copy(ROOT / "llmctl.yaml", root / "llmctl.yaml")
    (root / ".gitignore").write_text(".llmctl/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "examples")
    return root


@pytest.fixture
def git_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A committed example project in a real temporary git repository (no store yet)."""
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    return make_project(tmp_path / "proj")
