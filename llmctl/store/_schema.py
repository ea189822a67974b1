"""The store's schema: numbered migrations and the column layout the writer fills.

Each migration is a small function applied once, inside a transaction, and
recorded in `schema_migrations`. Never edit a released migration; append a new
one (`_m002_...`) and add it to `MIGRATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import duckdb
import pyarrow as pa

Migration = Callable[[duckdb.DuckDBPyConnection], None]

RUN_STATUSES = ("running", "completed", "failed", "interrupted")


def _m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status TEXT NOT NULL,
            git_commit TEXT,
            git_branch TEXT,
            evalset TEXT,
            config JSON,
            baseline_run_id TEXT,
            summary JSON,
            llmctl_version TEXT,
            shard TEXT
        )
        """
    )
    con.execute(
        """
        CREATE TABLE results (
            run_id TEXT NOT NULL,
            result_key TEXT NOT NULL,
            prompt TEXT NOT NULL,
            version_hash TEXT,
            case_id TEXT NOT NULL,
            model TEXT NOT NULL,
            repeat_index INTEGER NOT NULL,
            input JSON,
            expected JSON,
            output TEXT,
            error TEXT,
            prompt_tokens BIGINT,
            completion_tokens BIGINT,
            cost_usd DOUBLE,
            latency_ms DOUBLE,
            ttft_ms DOUBLE,
            cached BOOLEAN,
            retries INTEGER,
            passed BOOLEAN,
            score DOUBLE,
            created_at TIMESTAMP,
            PRIMARY KEY (run_id, result_key)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE scores (
            run_id TEXT NOT NULL,
            result_key TEXT NOT NULL,
            idx INTEGER NOT NULL,
            evaluator TEXT NOT NULL,
            config JSON,
            score DOUBLE,
            passed BOOLEAN,
            reason TEXT,
            error TEXT
        )
        """
    )
    con.execute(
        """
        CREATE TABLE prompt_versions (
            version_hash TEXT PRIMARY KEY,
            prompt TEXT NOT NULL,
            path TEXT,
            content JSON,
            first_seen TIMESTAMP,
            git_commit TEXT
        )
        """
    )
    con.execute(
        """
        CREATE TABLE cache (
            key TEXT PRIMARY KEY,
            model TEXT,
            output TEXT,
            prompt_tokens BIGINT,
            completion_tokens BIGINT,
            cost_usd DOUBLE,
            latency_ms DOUBLE,
            ttft_ms DOUBLE,
            created_at TIMESTAMP
        )
        """
    )


MIGRATIONS: list[Migration] = [_m001_initial]
SCHEMA_VERSION = len(MIGRATIONS)


def utcnow() -> datetime:
    """Now, as a naive UTC timestamp (the store's TIMESTAMP columns are UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def current_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The applied schema version; None when the file holds no llmctl schema at all."""
    (has_table,) = first_row(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'schema_migrations'",
    ) or (0,)
    if not has_table:
        return None
    (version,) = first_row(con, "SELECT max(version) FROM schema_migrations") or (None,)
    return int(version) if version is not None else 0


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[Any, ...] | None:
    """The first row of a query, or None. (fetchall: DuckDB refuses new work on a half-read result.)"""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every pending migration, each in its own transaction. Returns the new version."""
    version = current_version(con)
    if version is None:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        version = 0
    for number, step in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            step(con)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [number, utcnow()])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        version = number
    return version


# ---------------------------------------------------------------------------
# Column layout used by the writer (Arrow batches inserted by column name).

JSON_COLUMNS = {"input", "expected", "config", "content"}

RESULT_COLUMNS: list[tuple[str, pa.DataType, Any]] = [
    ("run_id", pa.string(), None),
    ("result_key", pa.string(), None),
    ("prompt", pa.string(), None),
    ("version_hash", pa.string(), None),
    ("case_id", pa.string(), None),
    ("model", pa.string(), None),
    ("repeat_index", pa.int32(), 0),
    ("input", pa.string(), None),
    ("expected", pa.string(), None),
    ("output", pa.string(), None),
    ("error", pa.string(), None),
    ("prompt_tokens", pa.int64(), 0),
    ("completion_tokens", pa.int64(), 0),
    ("cost_usd", pa.float64(), 0.0),
    ("latency_ms", pa.float64(), 0.0),
    ("ttft_ms", pa.float64(), None),
    ("cached", pa.bool_(), False),
    ("retries", pa.int32(), 0),
    ("passed", pa.bool_(), None),
    ("score", pa.float64(), None),
    ("created_at", pa.timestamp("us"), None),
]

SCORE_COLUMNS: list[tuple[str, pa.DataType, Any]] = [
    ("run_id", pa.string(), None),
    ("result_key", pa.string(), None),
    ("idx", pa.int32(), 0),
    ("evaluator", pa.string(), None),
    ("config", pa.string(), None),
    ("score", pa.float64(), None),
    ("passed", pa.bool_(), None),
    ("reason", pa.string(), None),
    ("error", pa.string(), None),
]

CACHE_COLUMNS: list[tuple[str, pa.DataType, Any]] = [
    ("key", pa.string(), None),
    ("model", pa.string(), None),
    ("output", pa.string(), None),
    ("prompt_tokens", pa.int64(), 0),
    ("completion_tokens", pa.int64(), 0),
    ("cost_usd", pa.float64(), 0.0),
    ("latency_ms", pa.float64(), 0.0),
    ("ttft_ms", pa.float64(), None),
    ("created_at", pa.timestamp("us"), None),
]

PROMPT_VERSION_COLUMNS: list[tuple[str, pa.DataType, Any]] = [
    ("version_hash", pa.string(), None),
    ("prompt", pa.string(), None),
    ("path", pa.string(), None),
    ("content", pa.string(), None),
    ("first_seen", pa.timestamp("us"), None),
    ("git_commit", pa.string(), None),
]
