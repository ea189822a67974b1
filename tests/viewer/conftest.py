"""A store with two runs of the labelled project (the second with a hostile output and a flip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.store import Store
from tests.gitrepo import git_env
from tests.labelled_project import evaluate, make


@pytest.fixture
def viewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Store, str, str]:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.setenv("LLMCTL_REVIEWER", "rev")
    root = tmp_path / "proj"
    repo = make(root)
    first, _ = evaluate(root)
    # the second run: ticket 3's answer loses "ok" (a flip from pass to fail)
    yaml = (
        (root / "llmctl.yaml")
        .read_text()
        .replace('      "/Ticket: 9/"', '      "/Ticket: 3/": "nope"\n      "/Ticket: 9/"')
    )
    repo.commit({"llmctl.yaml": yaml}, "worse")
    second, _ = evaluate(root)
    return root, Store(root / ".llmctl" / "llmctl.duckdb"), first, second
