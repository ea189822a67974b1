"""Fixtures shared by the release tests."""

from __future__ import annotations

import pytest

from tests.gitrepo import GitRepo, git_env, make_project


@pytest.fixture
def project(tmp_path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A committed example project in a real temporary git repository (no store yet)."""
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    return make_project(tmp_path / "proj")
