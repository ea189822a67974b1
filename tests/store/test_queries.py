"""llmctl.store._queries: the reads reports and the CLI need, answered by the store package."""

from __future__ import annotations

import ast
from pathlib import Path

from store_helpers import new_run, result_row

from llmctl.store import Store
from llmctl.store._queries import expected_values, prompt_versions, run_count

PACKAGE = Path(__file__).resolve().parents[2] / "llmctl"
# SQL outside llmctl/store that is still to move (issue 28): files other work is changing now.
NOT_YET_MOVED: set[str] = set()


def _looks_like_sql(text: str) -> bool:
    upper = " ".join(text.upper().split())
    return ("SELECT " in upper and " FROM " in upper) or any(
        word in upper for word in ("INSERT INTO ", "DELETE FROM ", "CREATE TABLE ", "UPDATE RUNS SET")
    )


def test_prompt_versions_expected_values_and_run_count(store: Store) -> None:
    assert run_count(store) == 0
    rid = new_run(store)
    other = new_run(store)
    with store.writer(rid) as w:
        w.add(result_row(1, version_hash="sha256:b", expected={"answer": 42}), [])
        w.add(result_row(2, version_hash="sha256:a", expected="plain text"), [])
        w.add(result_row(3, prompt="classify", version_hash="sha256:c"), [])
    assert prompt_versions(store, rid) == {"classify": ["sha256:c"], "summarize": ["sha256:a", "sha256:b"]}
    assert prompt_versions(store, other) == {}
    assert expected_values(store, rid) == {"case-1": {"answer": 42}, "case-2": "plain text", "case-3": None}
    assert run_count(store) == 2


def test_sql_lives_in_the_store_package() -> None:
    """No string literal outside llmctl/store reads like SQL (the not-yet-moved files aside)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("store/") or rel in NOT_YET_MOVED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if _looks_like_sql(node.value):
                    found.append(f"{rel}:{node.lineno}")
    assert not found, f"SQL outside llmctl/store: {found}"
