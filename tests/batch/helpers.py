"""Projects whose model is the fake server's Files and Batches API, and what the store holds of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmctl.store import RunRecord, Store
from tests.e2e.project import config, evalset, prompt, write

STORE = ".llmctl/llmctl.duckdb"
KEY = "sk-test-batch-key-0123456789"


def make_project(
    root: Path,
    base_url: str,
    n: int,
    *,
    alias: dict[str, Any] | None = None,
    extra_cfg: dict[str, Any] | None = None,
    extra_evalset: dict[str, Any] | None = None,
    cases: list[dict[str, Any]] | None = None,
) -> None:
    cfg = config(base_url, retries=0, **(extra_cfg or {}))
    cfg["models"]["fake"].update(alias or {})
    ev = evalset("qa", n, **(extra_evalset or {}))
    if cases is not None:
        ev["cases"] = cases
    write(
        root,
        {"llmctl.yaml": cfg, "prompts/qa.yaml": prompt("Answer briefly."), "evalsets/qa.yaml": ev},
    )


def store(root: Path) -> Store:
    return Store(root / STORE)


def results(root: Path, run_id: str) -> list[tuple[Any, ...]]:
    """(case_id, error, output, cost_usd, latency_ms, n_scores) of a run's results, by case."""
    return store(root).query(
        "SELECT r.case_id, r.error, r.output, r.cost_usd, r.latency_ms, "
        "(SELECT count(*) FROM scores s WHERE s.run_id = r.run_id AND s.result_key = r.result_key) "
        "FROM results r WHERE r.run_id = ? ORDER BY r.case_id",
        [run_id],
    )


def batches(root: Path, run_id: str) -> list[tuple[Any, ...]]:
    """(batch_id, purpose, requests, status, reason, collected) of a run's batches."""
    return store(root).query(
        "SELECT batch_id, purpose, requests, status, reason, collected FROM batches WHERE run_id = ? "
        "ORDER BY submitted_at, batch_id",
        [run_id],
    )


def latest(root: Path) -> RunRecord:
    return store(root).list_runs()[0]
