"""A store with two runs of the labelled project (the second with a hostile output and a flip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.store import Store
from tests.cli.conftest import copy_of_this_repo
from tests.e2e.project import llmctl
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


WORSE = (
    """      "/(?i)cancel.*ORD-2002/": {tool_calls: [{name: get_order, args: {order_id: ORD-2002}}]}""",
    """      "/(?i)cancel.*ORD-2002/": {tool_calls: [{name: cancel_order, args: {order_id: ORD-2002, reason: "customer asked"}}]}""",
)


@pytest.fixture
def agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, Store, str, str]:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    root = copy_of_this_repo(tmp_path / "repo")
    _code, out = llmctl(root, "eval", "support_agent", capsys=capsys)
    first = out.split("run ", 1)[1].split()[0]
    cfg = root / "llmctl.yaml"
    assert WORSE[0] in cfg.read_text()
    cancelled = "Order ORD-2002 is cancelled; the refund is on its way."
    cfg.write_text(cfg.read_text().replace(*WORSE).replace(cancelled, "Cancelled."))  # its answer differs too
    _code, out = llmctl(root, "eval", "support_agent", capsys=capsys)
    second = out.split("run ", 1)[1].split()[0]
    return root, Store(root / ".llmctl" / "llmctl.duckdb"), first, second
