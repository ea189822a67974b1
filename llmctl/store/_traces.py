"""The store's `traces` table: the import writer and the readers that `monitor`, `to-cases` and the viewer use.

An import stages a file's rows (Arrow batches, as they arrive) in a temporary Parquet file, then
moves them into `traces` in one transaction, anti-joined on `id` against what is there already
(re-import adds nothing); a failure anywhere leaves `traces` without any row of the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from llmctl.store._schema import transaction
from llmctl.store._store import Store

TRACE_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("id", pa.string()),
    ("ts", pa.timestamp("us")),
    ("source", pa.string()),
    ("prompt", pa.string()),
    ("version", pa.string()),
    ("model", pa.string()),
    ("input_messages", pa.string()),
    ("output", pa.string()),
    ("tool_calls", pa.string()),
    ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()),
    ("cost_usd", pa.float64()),
    ("cost_estimated", pa.bool_()),
    ("latency_ms", pa.float64()),
    ("error", pa.string()),
    ("finish_reason", pa.string()),
    ("vars", pa.string()),
    ("trace_id", pa.string()),
    ("span_id", pa.string()),
    ("attributes", pa.string()),
    ("file", pa.string()),
    ("imported_at", pa.timestamp("us")),
]
TRACE_FIELDS = tuple(name for name, _ in TRACE_COLUMNS)
TRACE_SCHEMA = pa.schema(TRACE_COLUMNS)
_NAMES = ", ".join(TRACE_FIELDS)


@dataclass
class TraceBatch:
    """One batch of a file's rows, plus attributions seen in it that could not be resolved to a
    span yet: (trace_id, prompt, version, vars JSON) of spans that name a prompt but are no LLM call."""

    table: pa.Table
    attributions: list[tuple[str, str | None, str | None, str | None]]


@dataclass
class ImportCounts:
    rows: int = 0  # LLM calls read from the file
    inserted: int = 0  # new rows (the rest were there already)
    attributed: int = 0  # rows given a prompt from another span of their trace


IMPORT_MEMORY_LIMIT = "256MB"  # DuckDB's memory during an import's final move; past it, it spills to its temp folder
_ATTR_SCHEMA = pa.schema([(name, pa.string()) for name in ("trace_id", "prompt", "version", "vars")])


def import_traces(store: Store, batches: Iterable[TraceBatch]) -> ImportCounts:
    """Insert a file's batches; returns what was read and what was new.

    The batches are staged as they arrive, numbered in file order, in a Parquet file in a private
    temporary folder (pyarrow's writer: a row group per batch, memory flat in the file; a DuckDB
    temporary table cost 5x the CPU time, and the store stayed open while the file was parsed).
    Then one transaction reads that file back: it drops the later copies of a span seen twice in
    the file, moves the rows into `traces` anti-joined on `id` (re-import adds nothing), and
    attributes calls to a prompt named by another span of their trace. An exception from the batch
    iterator (a malformed line) happens before the store is opened: nothing of the file is
    imported. The temporary folder is removed in every case.
    """
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    counts = ImportCounts()
    with tempfile.TemporaryDirectory(prefix="llmctl-traces-") as tmp:
        stage, attr = Path(tmp) / "stage.parquet", Path(tmp) / "attributions.parquet"
        schema = TRACE_SCHEMA.append(pa.field("_seq", pa.int64()))
        with (
            pq.ParquetWriter(stage, schema, compression="snappy") as rows,
            pq.ParquetWriter(attr, _ATTR_SCHEMA, compression="snappy") as attributions,
        ):
            for batch in batches:
                n = batch.table.num_rows
                if n:
                    seq = pa.array(range(counts.rows + 1, counts.rows + n + 1), pa.int64())
                    table = batch.table.select(list(TRACE_FIELDS)).cast(TRACE_SCHEMA).append_column("_seq", seq)
                    rows.write_table(table, row_group_size=_row_group_rows(table))
                    counts.rows += n
                if batch.attributions:
                    attributions.write_table(_attr_table(batch.attributions))

        def tx(con: duckdb.DuckDBPyConnection) -> ImportCounts:
            con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET threads = 1")  # reading the staged Parquet file on two threads ran out of memory at 64 MB
            con.execute("SET write_buffer_row_group_count = 1")  # the move into `traces` buffers one row group, not 5
            return transaction(con, lambda: _move_staged(con, counts, str(stage), str(attr)))

        return store._db.run(tx)


def _row_group_rows(table: pa.Table) -> int:
    """Rows per staged row group: about 1/20 of the import's memory limit each (DuckDB reads a
    row group's columns whole: 2,048 rows of 3 KB spans already overran a 64 MB limit)."""
    number, _, unit = IMPORT_MEMORY_LIMIT.upper().partition("MB")
    limit = int(number) << 20 if number.isdigit() and not unit else 256 << 20
    per_row = max(1, int(table.nbytes) // max(1, int(table.num_rows)))
    return max(64, limit // 20 // per_row)


def _move_staged(con: duckdb.DuckDBPyConnection, counts: ImportCounts, stage: str, attr: str) -> ImportCounts:
    """The staged rows into `traces` (inside the caller's transaction)."""
    before = _count(con)
    # the paths as literals: read_parquet(?) plans the anti-joins without the file's row counts
    # (and ran out of memory at 64 MB where the literal does not)
    stage, attr = _literal(stage), _literal(attr)
    # a span seen twice in the file (in two batches; a batch has no duplicates): the first one stays
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _llmctl_later AS SELECT s._seq FROM read_parquet({stage}) s "  # noqa: S608
        f"JOIN (SELECT id, min(_seq) AS first FROM read_parquet({stage}) GROUP BY id HAVING count(*) > 1) d "
        "ON s.id = d.id AND s._seq > d.first"
    )
    con.execute(
        f"INSERT INTO traces ({_NAMES}) SELECT {_NAMES} FROM read_parquet({stage}) s "  # noqa: S608
        "WHERE NOT EXISTS (SELECT 1 FROM traces t WHERE t.id = s.id) "
        "AND s._seq NOT IN (SELECT _seq FROM _llmctl_later)"  # a second NOT EXISTS: out of memory at 64 MB
    )
    con.execute("DROP TABLE _llmctl_later")
    # An LLM span whose enclosing span (elsewhere in the file) named the prompt: attributed when
    # every naming span of its trace agrees on one prompt.
    got = con.execute(
        f"""
        UPDATE traces SET prompt = a.prompt, version = coalesce(traces.version, a.version),
            vars = coalesce(traces.vars, a.vars)
        FROM (SELECT trace_id, any_value(prompt) AS prompt, any_value(version) AS version,
                     any_value(vars) AS vars
              FROM read_parquet({attr}) GROUP BY trace_id HAVING count(DISTINCT prompt) = 1) a
        WHERE traces.prompt IS NULL AND traces.trace_id = a.trace_id
        RETURNING 1
        """  # noqa: S608
    ).fetchall()
    counts.attributed = len(got)
    counts.inserted = _count(con) - before
    return counts


def _literal(path: str) -> str:
    """A path as an SQL string literal."""
    return "'" + path.replace("'", "''") + "'"


def _attr_table(rows: list[tuple[str, str | None, str | None, str | None]]) -> pa.Table:
    return pa.table({name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(_ATTR_SCHEMA.names)})


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM traces").fetchone()
    return int(row[0]) if row else 0


def trace_count(store: Store) -> int:
    """How many traces the store holds (0 for a store without any)."""
    return store._db.run(_count, read_only=True)


def newest_trace_ts(store: Store, prompt: str | None = None) -> datetime | None:
    """The newest trace's time (of `prompt` when given)."""
    rows = store._db.run(
        lambda con: con.execute(
            "SELECT max(ts) FROM traces WHERE ? IS NULL OR prompt = ?", [prompt, prompt]
        ).fetchall(),
        read_only=True,
    )
    return rows[0][0] if rows else None


def query_traces(store: Store, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of a read-only query over `traces`, as dicts."""

    def q(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        cur = con.execute(sql, list(params))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    return store._db.run(q, read_only=True)


def iter_traces(
    store: Store, where: str = "TRUE", params: Sequence[Any] = (), *, batch: int = 10_000
) -> Iterator[list[dict[str, Any]]]:
    """Every trace matching `where` (a SQL condition with `?` params, built by llmctl), in id order,
    in lists of `batch` dicts: one short read per list (keyset pagination), so the store is never
    held open while the caller works."""
    last = ""
    while True:
        rows = query_traces(
            store,
            f"SELECT {_NAMES} FROM traces WHERE ({where}) AND id > ? ORDER BY id LIMIT {int(batch)}",  # noqa: S608
            [*params, last],
        )
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]
