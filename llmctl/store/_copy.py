"""`copy_store`: move a history between stores (a local DuckDB file and a shared DuckLake, either way).

The source is attached read-only inside the destination's connection and every table of the
destination's schema is copied in one transaction (a copy that is killed leaves nothing):
rows whose key (the table's primary key on a DuckDB file, its recorded key on a DuckLake) is
not in the destination yet are added, and a keyed row that changed (a run that finished since
the last copy) replaces the old one; a table without a key gets the rows it lacks. Copying
twice changes nothing the second time. Tables that migrations add are copied the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from llmctl.errors import InputError
from llmctl.store._lake import attach_lake_sql, prepare_for_lake
from llmctl.store._schema import user_tables
from llmctl.store_location import LakeSpec

SRC = "llmctl_copy_src"
_SKIP = {"schema_migrations", "llmctl_store", "llmctl_lake_keys", "llmctl_lake_head"}

# (table, rows in the source): called once before each table; then (table, rows added)
Progress = Callable[[str, int, int], None]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _keys(con: duckdb.DuckDBPyConnection, table: str, lake: bool) -> list[str]:
    if lake:
        rows = con.execute("SELECT key_columns FROM llmctl_lake_keys WHERE table_name = ?", [table]).fetchall()
        return [c for c in str(rows[0][0]).split(",") if c] if rows else []
    rows = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchall()
    return list(rows[0][0]) if rows else []


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
        "AND table_name = ? ORDER BY column_index",
        [database, table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def copy_tables(
    con: duckdb.DuckDBPyConnection,
    source: Path | LakeSpec,
    *,
    dest_is_lake: bool,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Inside the destination's connection: attach `source` (a Path or LakeSpec) and copy.

    Returns the rows written per table (added, or replaced by a changed row).
    """
    if isinstance(source, LakeSpec):
        prepare_for_lake(con, source)
        con.execute(attach_lake_sql(source, SRC, read_only=True))
    else:
        con.execute(f"ATTACH {_sql_str(str(source))} AS {SRC} (READ_ONLY)")
    added: dict[str, int] = {}
    try:
        here = con.execute("SELECT current_database()").fetchall()[0][0]
        src_tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'", [SRC]
            ).fetchall()
        }
        tables = [t for t in user_tables(con) if t not in _SKIP and "." not in t]
        missing = sorted({"runs", "results", "scores"} - src_tables)
        if missing:
            raise InputError(f"the source is not an llmctl store (it has no {', '.join(missing)} table)")
        con.execute("BEGIN TRANSACTION")
        try:
            for table in tables:
                if table not in src_tables:
                    continue
                cols = [c for c in _columns(con, str(here), table) if c in set(_columns(con, SRC, table))]
                names = ", ".join(_q(c) for c in cols)
                src = f"{SRC}.main.{_q(table)}"
                total = int(con.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0])  # noqa: S608
                if progress:
                    progress(table, total, -1)
                before = int(con.execute(f"SELECT count(*) FROM {_q(table)}").fetchall()[0][0])  # noqa: S608
                keys = [k for k in _keys(con, table, dest_is_lake) if k in cols]
                replaced = 0
                if keys:
                    on = " AND ".join(f"d.{_q(k)} = s.{_q(k)}" for k in keys)
                    # a keyed row that changed in the source (a run finished since) replaces the old one
                    changed = (
                        f"SELECT {', '.join('s.' + _q(k) for k in keys)} FROM {src} s JOIN {_q(table)} d ON {on} "  # noqa: S608
                        f"WHERE ({', '.join('s.' + _q(c) for c in cols)}) IS DISTINCT FROM "
                        f"({', '.join('d.' + _q(c) for c in cols)})"
                    )
                    key_tuple = ", ".join(_q(k) for k in keys)
                    stale = con.execute(changed).fetchall()
                    replaced = len(stale)
                    if stale:
                        con.execute(
                            f"DELETE FROM {_q(table)} WHERE ({key_tuple}) IN ({changed})"  # noqa: S608
                        )
                    con.execute(
                        f"INSERT INTO {_q(table)} ({names}) SELECT {names} FROM {src} s "  # noqa: S608
                        f"WHERE NOT EXISTS (SELECT 1 FROM {_q(table)} d WHERE {on}) "
                        f"QUALIFY row_number() OVER (PARTITION BY {', '.join('s.' + _q(k) for k in keys)}) = 1"
                    )
                else:
                    con.execute(
                        f"INSERT INTO {_q(table)} ({names}) SELECT {names} FROM {src} "  # noqa: S608
                        f"EXCEPT ALL SELECT {names} FROM {_q(table)}"
                    )
                after = int(con.execute(f"SELECT count(*) FROM {_q(table)}").fetchall()[0][0])  # noqa: S608
                added[table] = after - before + replaced
                if progress:
                    progress(table, total, added[table])
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
    finally:
        con.execute(f"DETACH {SRC}")
    return added
