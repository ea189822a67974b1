from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from llmctl.errors import StoreError
from llmctl.store import MIGRATIONS, SCHEMA_VERSION, Store

EXPECTED = {
    "schema_migrations": {"version", "applied_at"},
    "runs": {
        "id", "started_at", "finished_at", "status", "git_commit", "git_branch", "evalset", "config",
        "baseline_run_id", "summary", "llmctl_version", "shard", "gate_snapshot",  # _m011
    },
    "results": {
        "run_id", "result_key", "prompt", "version_hash", "case_id", "model", "repeat_index", "input",
        "expected", "output", "error", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms",
        "ttft_ms", "cached", "retries", "passed", "score", "created_at", "tool_calls", "finish_reason", "turns", "cached_tokens", "reasoning_tokens", "cache_write_tokens",
    },
    "scores": {"run_id", "result_key", "idx", "evaluator", "config", "score", "passed", "reason", "error"},
    "prompt_versions": {"version_hash", "prompt", "path", "content", "first_seen", "git_commit"},
    "cache": {
        "key", "model", "output", "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms", "ttft_ms",
        "created_at", "tool_calls", "finish_reason", "turns", "cached_tokens", "reasoning_tokens", "cache_write_tokens",
    },
    "llmctl_store": {"key", "value"},
    "judge_calls": {
        "run_id", "result_key", "evaluator", "idx", "call_index", "model", "prompt_tokens", "completion_tokens",
        "cost_usd", "latency_ms", "cached", "error", "created_at", "cached_tokens", "reasoning_tokens", "cache_write_tokens",
    },
    "labels": {
        "evalset", "case_id", "model", "output_sha256", "label", "score", "note", "labelled_by", "labelled_at",
    },
    "judge_calibrations": {
        "judge_hash", "evaluator", "config", "evalsets", "n", "tp", "fp", "tn", "fn", "kappa", "kappa_low",
        "kappa_high", "calibrated_at",
    },
    "batches": {
        "run_id", "batch_id", "model", "purpose", "provider", "input_file_id", "output_file_id", "error_file_id",
        "requests", "status", "reason", "collected", "submitted_at", "updated_at",
    },
    "batch_requests": {"run_id", "batch_id", "custom_id", "state"},
    "traces": {
        "id", "ts", "source", "prompt", "version", "model", "input_messages", "output", "tool_calls", "prompt_tokens",
        "completion_tokens", "cost_usd", "cost_estimated", "latency_ms", "error", "finish_reason", "vars", "trace_id",
        "span_id", "attributes", "file", "imported_at",
    },
}  # fmt: skip


def columns(path: Path) -> dict[str, set[str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def versions(path: Path) -> list[int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
    finally:
        con.close()


def test_migrating_an_empty_store_gives_the_schema(store: Store, store_path: Path) -> None:
    store.create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    assert columns(store_path) == EXPECTED
    assert versions(store_path) == list(range(1, len(MIGRATIONS) + 1))
    assert store.schema_version() == SCHEMA_VERSION
    # created atomically: no temp files left beside it
    assert sorted(p.name for p in store_path.parent.iterdir()) == [store_path.name]


def test_migrations_apply_to_an_existing_empty_duckdb_file(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    duckdb.connect(str(store_path)).close()
    assert Store(store_path).schema_version() == SCHEMA_VERSION
    assert columns(store_path) == EXPECTED


def test_reopening_is_idempotent(store_path: Path) -> None:
    Store(store_path).create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    for n in range(1, 4):
        s = Store(store_path)
        assert len(s.list_runs()) == n
        s.create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    assert versions(store_path) == list(range(1, len(MIGRATIONS) + 1))
    assert len(Store(store_path).list_runs()) == 4


def test_reading_a_missing_store_creates_nothing(store_path: Path) -> None:
    s = Store(store_path)
    assert s.list_runs() == []
    assert s.cache_get_many(["k"]) == {}
    assert s.schema_version() == SCHEMA_VERSION
    assert not store_path.exists()


@pytest.mark.parametrize("op", ["read", "write"])
def test_newer_schema_is_refused_and_untouched(store: Store, store_path: Path, op: str) -> None:
    store.create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    con = duckdb.connect(str(store_path))
    con.execute("INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)", [SCHEMA_VERSION + 4])
    con.close()
    before = store_path.read_bytes()
    fresh = Store(store_path)
    with pytest.raises(StoreError) as info:
        if op == "read":
            fresh.list_runs()
        else:
            fresh.create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    msg = str(info.value)
    assert "newer llmctl" in msg
    assert f"schema v{SCHEMA_VERSION + 4}, this one knows v{SCHEMA_VERSION}" in msg
    assert str(store_path) in msg
    assert store_path.read_bytes() == before
    assert sorted(p.name for p in store_path.parent.iterdir()) == [store_path.name]


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not a database\n" * 20, os.urandom(20000), b"DUCK" + os.urandom(5000)],
    ids=["empty", "text", "random", "duck-prefix"],
)
@pytest.mark.parametrize("op", ["read", "write"])
def test_a_non_duckdb_file_is_refused_and_untouched(tmp_path: Path, content: bytes, op: str) -> None:
    path = tmp_path / "llmctl.duckdb"
    path.write_bytes(content)
    before = os.stat(path)
    s = Store(path, lock_timeout=2)
    with pytest.raises(StoreError) as info:
        if op == "read":
            s.list_runs()
        else:
            s.create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    assert str(path) in str(info.value)
    assert "not an llmctl store" in str(info.value)
    assert path.read_bytes() == content
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llmctl.duckdb"]


def test_a_foreign_duckdb_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INT)")
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not an llmctl store"):
        Store(path).create_run(evalset="e", config={}, git_commit=None, git_branch=None)
    assert path.read_bytes() == before
    assert "runs" not in columns(path)


def test_store_connections_draw_no_progress_bar(tmp_path: Path) -> None:
    """DuckDB draws a progress bar on stdout for statements over 2 s (a large trace import), into
    `--json` output too; the store's connections turn it off."""
    store = Store(tmp_path / "s.duckdb")
    assert store.query("SELECT current_setting('enable_progress_bar')") == [(False,)]
