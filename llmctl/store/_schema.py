"""The store's schema: numbered migrations and the column layout the writer fills.

Each migration is a small function applied once, inside a transaction, and
recorded in `schema_migrations`. Never edit a released migration; append a new
one (`_m003_...`) and add it to `MIGRATIONS`.

A file is written to only once it is identified positively as an llmctl store
(`identify`): by the marker row in `llmctl_store` (written by migration 2), or,
for a store from before the marker, by its version-1 tables. An empty DuckDB
file is migrated; anything else is refused, untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

T = TypeVar("T")
Migration = Callable[[duckdb.DuckDBPyConnection], None]

# submitted: `eval --batch --no-wait` sent its calls to a batch API and did not evaluate them yet
RUN_STATUSES = ("running", "completed", "failed", "interrupted", "submitted")

# Every connection: never download or load a DuckDB extension (a SQLite file, or a path
# with a scheme, would otherwise make DuckDB fetch one from the network).
CONNECT_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
NO_PROGRESS_BAR = "SET enable_progress_bar = false"  # a connection option, not one of the config
MARKER = ("format", "llmctl-store")
_V1_TABLES = {"runs", "results", "scores", "prompt_versions", "cache"}


class NotAStore(Exception):
    """The file is not an llmctl store (the reason is the message); the caller names the file."""


def connect(path: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with llmctl's settings (no extension auto-install or auto-load, no
    progress bar: DuckDB draws one on stdout for a statement over 2 s, into `--json` output too)."""
    con = duckdb.connect(path, read_only=read_only, config=dict(CONNECT_CONFIG))
    con.execute(NO_PROGRESS_BAR)
    return con


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


def _m002_store_hardening(con: duckdb.DuckDBPyConnection) -> None:
    """The llmctl marker, and the calls that evaluators (judges) made, linked to the result they graded."""
    con.execute("CREATE TABLE llmctl_store (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO llmctl_store VALUES (?, ?)", list(MARKER))
    con.execute(
        """
        CREATE TABLE judge_calls (
            run_id TEXT NOT NULL,
            result_key TEXT NOT NULL,
            evaluator TEXT NOT NULL,
            idx INTEGER NOT NULL,
            call_index INTEGER NOT NULL,
            model TEXT,
            prompt_tokens BIGINT,
            completion_tokens BIGINT,
            cost_usd DOUBLE,
            latency_ms DOUBLE,
            cached BOOLEAN,
            error TEXT,
            created_at TIMESTAMP
        )
        """
    )


def _m004_labels(con: duckdb.DuckDBPyConnection) -> None:
    """Human labels (mirrored from evalsets/labels/*.jsonl) and judge calibrations."""
    con.execute(
        """
        CREATE TABLE labels (
            evalset TEXT NOT NULL,
            case_id TEXT NOT NULL,
            model TEXT NOT NULL,
            output_sha256 TEXT NOT NULL,
            label TEXT NOT NULL,
            score DOUBLE,
            note TEXT,
            labelled_by TEXT,
            labelled_at TEXT,
            PRIMARY KEY (evalset, case_id, model, output_sha256)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE judge_calibrations (
            judge_hash TEXT NOT NULL,
            evaluator TEXT NOT NULL,
            config JSON,
            evalsets JSON,
            n INTEGER NOT NULL,
            tp INTEGER NOT NULL,
            fp INTEGER NOT NULL,
            tn INTEGER NOT NULL,
            fn INTEGER NOT NULL,
            kappa DOUBLE,
            kappa_low DOUBLE,
            kappa_high DOUBLE,
            calibrated_at TIMESTAMP NOT NULL
        )
        """
    )


def _m005_tool_calls(con: duckdb.DuckDBPyConnection) -> None:
    """Tool calls ({id, name, arguments, raw_arguments} list), the finish reason and, for agent
    loops, every turn (each call's output, tool calls, tokens and cost) of each result and cache entry."""
    for table in ("results", "cache"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN tool_calls JSON")
        con.execute(f"ALTER TABLE {table} ADD COLUMN finish_reason TEXT")
        con.execute(f"ALTER TABLE {table} ADD COLUMN turns JSON")


def _m006_token_details(con: duckdb.DuckDBPyConnection) -> None:
    """The provider's token details: prompt tokens read from its prompt cache (`cached_tokens`,
    priced at the cache-read rate) and reasoning tokens (part of `completion_tokens`), for
    results, cache entries and judge calls."""
    for table in ("results", "cache", "judge_calls"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN cached_tokens BIGINT")
        con.execute(f"ALTER TABLE {table} ADD COLUMN reasoning_tokens BIGINT")


def _m007_cache_write_tokens(con: duckdb.DuckDBPyConnection) -> None:
    """Prompt tokens written to the provider's prompt cache (Anthropic's cache_creation_input_tokens,
    part of `prompt_tokens`, priced at the cache-write rate), for results, cache entries and judge calls."""
    for table in ("results", "cache", "judge_calls"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN cache_write_tokens BIGINT")


def _m008_traces(con: duckdb.DuckDBPyConnection) -> None:
    """Production traces imported by `llmctl traces import` (OTLP spans, OpenAI exchanges, litellm
    payloads): one row per LLM call, `id` stable per span/exchange so a re-import adds nothing."""
    con.execute(
        """
        CREATE TABLE traces (
            id TEXT NOT NULL,
            ts TIMESTAMP,
            source TEXT NOT NULL,
            prompt TEXT,
            version TEXT,
            model TEXT,
            input_messages JSON,
            output TEXT,
            tool_calls JSON,
            prompt_tokens BIGINT,
            completion_tokens BIGINT,
            cost_usd DOUBLE,
            cost_estimated BOOLEAN,
            latency_ms DOUBLE,
            error TEXT,
            finish_reason TEXT,
            vars JSON,
            trace_id TEXT,
            span_id TEXT,
            attributes JSON,
            file TEXT,
            imported_at TIMESTAMP
        )
        """
    )


def _m009_batches(con: duckdb.DuckDBPyConnection) -> None:
    """The provider batches of `eval --batch` (llmctl.batch): one row per batch submitted for a run
    (alias, purpose `cases` or `judge`, provider status, files, why it ended), and one row per request in
    it (`custom_id`: the result key, or a judge call's cache key; `state`: pending | done | failed), so
    `--resume` collects what finished, never resubmits what is in flight and retries only failed requests."""
    con.execute(
        """
        CREATE TABLE batches (
            run_id TEXT NOT NULL,
            batch_id TEXT NOT NULL,
            model TEXT NOT NULL,
            purpose TEXT NOT NULL,
            provider TEXT,
            input_file_id TEXT,
            output_file_id TEXT,
            error_file_id TEXT,
            requests INTEGER,
            status TEXT NOT NULL,
            reason TEXT,
            collected BOOLEAN NOT NULL DEFAULT false,
            submitted_at TIMESTAMP,
            updated_at TIMESTAMP,
            PRIMARY KEY (run_id, batch_id)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE batch_requests (
            run_id TEXT NOT NULL,
            batch_id TEXT NOT NULL,
            custom_id TEXT NOT NULL,
            state TEXT NOT NULL,
            PRIMARY KEY (run_id, batch_id, custom_id)
        )
        """
    )


def _m011_gate_snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """The DuckLake snapshot a run's gate verdict was computed from (the snapshot its latest read
    saw), so a verdict on a shared store that others keep writing can be reproduced with time
    travel. NULL on a local DuckDB file, which has no snapshots."""
    con.execute("ALTER TABLE runs ADD COLUMN gate_snapshot BIGINT")


# _m003 is another branch's migration; _m004 and _m005 are numbered as assigned and take their
# places in the list (by position) until all are merged.
MIGRATIONS: list[Migration] = [
    _m001_initial,
    _m002_store_hardening,
    _m004_labels,
    _m005_tool_calls,
    _m006_token_details,
    _m007_cache_write_tokens,
    _m008_traces,
    _m009_batches,  # two new tables
    _m011_gate_snapshot,  # (no _m010: that number was reserved and not needed) only adds a column
]
SCHEMA_VERSION = len(MIGRATIONS)


def utcnow() -> datetime:
    """Now, as a naive UTC timestamp (the store's TIMESTAMP columns are UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The applied schema version of an llmctl store (0: an empty database).

    Raises NotAStore for anything that is not positively an llmctl store.
    """
    tables = set(user_tables(con))
    if not tables:
        return 0
    if "schema_migrations" not in tables:
        raise NotAStore("it has no schema_migrations table")
    versions: list[object] = [r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()]
    if not versions:
        raise NotAStore("its schema_migrations table is empty")
    numbers = [v for v in versions if type(v) is int]
    if len(numbers) < len(versions):
        odd = next(v for v in versions if type(v) is not int)
        raise NotAStore(f"its schema_migrations table holds a non-integer version {odd!r}")
    version = max(numbers)
    if version == 1:
        if not _V1_TABLES <= tables:
            raise NotAStore(f"it lacks llmctl's tables ({', '.join(sorted(_V1_TABLES - tables))})")
        return version
    marker = []
    if "llmctl_store" in tables:
        marker = con.execute("SELECT value FROM llmctl_store WHERE key = ?", [MARKER[0]]).fetchall()
    newer_with_v1_tables = version > len(MIGRATIONS) and _V1_TABLES <= tables  # refused as newer anyway
    if [(MARKER[1],)] != marker and not newer_with_v1_tables:
        raise NotAStore("it has no llmctl marker (table llmctl_store)")
    return version


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[object, ...] | None:
    """The first row of a query, or None. (fetchall: DuckDB refuses new work on a half-read result.)"""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def user_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and views of the database (`schema.name` outside `main`)."""
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal ORDER BY 1, 2"
    ).fetchall()
    return [name if schema == "main" else f"{schema}.{name}" for schema, name in rows]


def transaction(con: duckdb.DuckDBPyConnection, fn: Callable[[], T]) -> T:
    """`fn()` inside BEGIN/COMMIT. On failure the transaction is rolled back and the original
    error raised: a failed COMMIT (a full disk) ends the transaction itself, and the
    ROLLBACK's own complaint must never hide the cause."""
    con.execute("BEGIN TRANSACTION")
    try:
        out = fn()
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise
    return out


def migrate(con: duckdb.DuckDBPyConnection, *, lake: bool = False) -> int:
    """Apply every pending migration, each in its own transaction. Returns the new version.

    On an empty database the first transaction creates `schema_migrations` too, so no
    llmctl process leaves a file with the table but no migration recorded.

    On a DuckLake (`lake`), where several processes may migrate at once, each migration also
    updates the one row of `llmctl_lake_head`: two transactions applying the same migration
    conflict on it, the second fails at commit and its caller retries, finding it applied.
    """
    version = transaction(con, lambda: current_version(con)) if lake else current_version(con)
    for number, step in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue

        def apply(number: int = number, step: Migration = step) -> None:
            if lake and current_version(con) >= number:
                return  # another process applied it since we looked (this transaction sees it)
            if number == 1:
                con.execute(
                    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
                )
                if lake:
                    con.execute("CREATE TABLE llmctl_lake_head (version INTEGER NOT NULL)")
                    con.execute("INSERT INTO llmctl_lake_head VALUES (0)")
            step(con)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [number, utcnow()])
            if lake:
                con.execute("UPDATE llmctl_lake_head SET version = ?", [number])

        transaction(con, apply)
        version = number
    return version


# ---------------------------------------------------------------------------
# Column layout used by the writer (Arrow batches inserted by column name).

JSON_COLUMNS = {"input", "expected", "config", "content", "tool_calls", "turns"}

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
    ("cached_tokens", pa.int64(), None),
    ("reasoning_tokens", pa.int64(), None),
    ("cache_write_tokens", pa.int64(), None),
    ("cost_usd", pa.float64(), 0.0),
    ("latency_ms", pa.float64(), 0.0),
    ("ttft_ms", pa.float64(), None),
    ("cached", pa.bool_(), False),
    ("retries", pa.int32(), 0),
    ("tool_calls", pa.string(), None),
    ("finish_reason", pa.string(), None),
    ("turns", pa.string(), None),
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
    ("cached_tokens", pa.int64(), None),
    ("reasoning_tokens", pa.int64(), None),
    ("cache_write_tokens", pa.int64(), None),
    ("cost_usd", pa.float64(), 0.0),
    ("latency_ms", pa.float64(), 0.0),
    ("ttft_ms", pa.float64(), None),
    ("tool_calls", pa.string(), None),
    ("finish_reason", pa.string(), None),
    ("turns", pa.string(), None),
    ("created_at", pa.timestamp("us"), None),
]

JUDGE_CALL_COLUMNS: list[tuple[str, pa.DataType, Any]] = [
    ("run_id", pa.string(), None),
    ("result_key", pa.string(), None),
    ("evaluator", pa.string(), None),
    ("idx", pa.int32(), 0),
    ("call_index", pa.int32(), 0),
    ("model", pa.string(), None),
    ("prompt_tokens", pa.int64(), None),
    ("completion_tokens", pa.int64(), None),
    ("cached_tokens", pa.int64(), None),
    ("reasoning_tokens", pa.int64(), None),
    ("cache_write_tokens", pa.int64(), None),
    ("cost_usd", pa.float64(), 0.0),
    ("latency_ms", pa.float64(), 0.0),
    ("cached", pa.bool_(), False),
    ("error", pa.string(), None),
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
