"""Only positively identified llmctl stores are written to; anything else is refused, untouched."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import duckdb
import pytest
from store_helpers import fill, new_run

from llmctl.errors import StoreError
from llmctl.store import SCHEMA_VERSION, Store
from llmctl.store._schema import MIGRATIONS


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ops(path: Path) -> dict[str, object]:
    s = Store(path, lock_timeout=2)
    return {
        "read": s.list_runs,
        "write": lambda: s.create_run(evalset="e", config={}, git_commit=None, git_branch=None),
    }


def _refused(path: Path, op: str, match: str) -> StoreError:
    before = _digest(path)
    siblings = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(StoreError) as info:
        _ops(path)[op]()  # type: ignore[operator]
    assert match in str(info.value), str(info.value)
    assert str(path) in str(info.value)
    assert _digest(path) == before, "a refused file was modified"
    assert sorted(p.name for p in path.parent.iterdir()) == siblings, "a refused file got a WAL or temp file"
    return info.value


def _duckdb(path: Path, *statements: str) -> Path:
    con = duckdb.connect(str(path))
    for sql in statements:
        con.execute(sql)
    con.close()
    return path


@pytest.mark.parametrize("op", ["read", "write"])
def test_a_foreign_database_with_an_empty_schema_migrations_table_is_refused(tmp_path: Path, op: str) -> None:
    path = _duckdb(
        tmp_path / "app.duckdb",
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)",
        "CREATE TABLE customers (id INT, name TEXT)",
        "INSERT INTO customers VALUES (1, 'Ana')",
    )
    _refused(path, op, "schema_migrations table is empty")


def test_an_empty_schema_migrations_table_alone_is_refused(tmp_path: Path) -> None:
    path = _duckdb(
        tmp_path / "x.duckdb",
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)",
    )
    _refused(path, "write", "not an llmctl store")


def test_another_apps_migrations_at_version_one_are_not_taken_for_llmctl(tmp_path: Path) -> None:
    path = _duckdb(
        tmp_path / "app.duckdb",
        "CREATE TABLE schema_migrations (version INTEGER, applied_at TIMESTAMP)",
        "INSERT INTO schema_migrations VALUES (1, now()::TIMESTAMP)",
        "CREATE TABLE runs (id TEXT)",
    )
    _refused(path, "write", "lacks llmctl's tables")


@pytest.mark.parametrize("value", ["'abc'", "'1'", "NULL"])
def test_a_non_integer_migration_version_is_a_clear_error(tmp_path: Path, value: str) -> None:
    path = _duckdb(
        tmp_path / "odd.duckdb",
        "CREATE TABLE schema_migrations (version VARCHAR, applied_at TIMESTAMP)",
        f"INSERT INTO schema_migrations VALUES ({value}, now()::TIMESTAMP)",
    )
    _refused(path, "write", "non-integer version")


def test_a_later_store_without_the_marker_is_refused(store: Store, store_path: Path) -> None:
    new_run(store)
    _duckdb(store_path, "DELETE FROM llmctl_store")
    _refused(store_path, "write", "no llmctl marker")


@pytest.mark.parametrize("op", ["read", "write"])
def test_a_sqlite_file_is_refused_without_loading_an_extension(tmp_path: Path, op: str) -> None:
    path = tmp_path / "llmctl.duckdb"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    err = _refused(path, op, "SQLite database")
    assert "extension" not in str(err).lower()


def test_every_connection_refuses_extension_autoload(store: Store) -> None:
    new_run(store)
    rows = store.query(
        "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
    )
    assert rows == [(False, False)]


@pytest.fixture
def whole_store(tmp_path: Path) -> Path:
    path = tmp_path / "whole" / "llmctl.duckdb"
    s = Store(path)
    for _ in range(3):
        fill(s, new_run(s), 400)
    return path


@pytest.mark.parametrize("fraction", [0.002, 0.05, 0.4, 0.75, 0.97])
@pytest.mark.parametrize("op", ["read", "write"])
def test_a_truncated_store_is_not_modified(tmp_path: Path, whole_store: Path, fraction: float, op: str) -> None:
    data = whole_store.read_bytes()
    path = tmp_path / "cut" / "llmctl.duckdb"
    path.parent.mkdir()
    path.write_bytes(data[: int(len(data) * fraction)])
    _refused(path, op, "truncated")


def test_a_version_one_store_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    """A store written before the marker existed (only migration 1) is recognised by its tables."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)")
    MIGRATIONS[0](con)
    con.execute("INSERT INTO schema_migrations VALUES (1, now()::TIMESTAMP)")
    con.execute("INSERT INTO runs (id, started_at, status) VALUES ('r-old', now()::TIMESTAMP, 'completed')")
    con.close()
    s = Store(path)
    assert [r.id for r in s.list_runs()] == ["r-old"]
    new_run(s)
    assert s.schema_version() == SCHEMA_VERSION
    assert s.query("SELECT key, value FROM llmctl_store") == [("format", "llmctl-store")]
    assert len(s.list_runs()) == 2


def test_a_fresh_store_carries_the_marker(store: Store, store_path: Path) -> None:
    new_run(store)
    assert store.query("SELECT value FROM llmctl_store WHERE key = 'format'") == [("llmctl-store",)]
    assert os.path.getsize(store_path) > 0
