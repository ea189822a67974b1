"""The schema check of a shared store (DuckLake): one statement for a store at this schema, once per
process and lake; anything else (newer, foreign, marker gone) still refused by the full check."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from llmctl.errors import StoreError
from llmctl.store import Store, _lake
from llmctl.store import _schema as schema
from llmctl.store_location import LakeSpec

sys.path.insert(0, str(Path(__file__).parent))
from store_helpers import fill, new_run

pytest.importorskip("duckdb_extension_ducklake", reason="the `shared` extra is not installed")


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls: list[int] = []
    original: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_an_existing_store_is_checked_by_one_statement_once_per_process(
    lake: LakeSpec, monkeypatch: pytest.MonkeyPatch, as_a_new_process: Callable[[], None]
) -> None:
    Store(lake).schema_version()  # another process made and migrated the store
    as_a_new_process()
    quick = _counting(monkeypatch, _lake, "read_current")
    full = _counting(monkeypatch, schema, "current_version")
    migrations = _counting(monkeypatch, schema, "migrate")

    first = Store(lake)
    run_id = new_run(first)
    fill(first, run_id, 3)  # keyed writes (results, scores)
    first.finish_run(run_id, "completed", {})
    second = Store(lake)  # a second store object on the same lake in this process
    assert second.get_run(run_id).status == "completed"
    second._db.close()  # a closed and reopened instance is not checked again either
    assert len(second.list_runs()) == 1

    assert len(quick) == 1
    assert full == [] and migrations == []  # the full check (four catalog reads) was not needed


def test_the_quick_check_fills_the_key_cache(lake: LakeSpec, as_a_new_process: Callable[[], None]) -> None:
    Store(lake).schema_version()
    as_a_new_process()
    store = Store(lake)
    store.query("SELECT 1")
    keys = _lake._shared_by_spec[lake].keys
    assert keys.tables is not None
    assert keys.tables["results"] == ["run_id", "result_key"] and keys.tables["runs"] == ["id"]
    assert keys.tables == {
        str(t): str(c).split(",") for t, c in store.query("SELECT table_name, key_columns FROM llmctl_lake_keys")
    }


def _edit(lake: LakeSpec, sql: str) -> None:
    Store(lake)._db.run(lambda con: con.execute(sql))


def test_a_store_written_by_a_newer_llmctl_is_still_refused(
    lake: LakeSpec, as_a_new_process: Callable[[], None]
) -> None:
    Store(lake).schema_version()
    _edit(lake, f"INSERT INTO schema_migrations VALUES ({schema.SCHEMA_VERSION + 1}, now()::TIMESTAMP)")
    as_a_new_process()
    with pytest.raises(StoreError, match="newer llmctl"):
        Store(lake).list_runs()


@pytest.mark.parametrize(
    "damage",
    [
        "DELETE FROM llmctl_store",  # no marker
        "INSERT INTO llmctl_store VALUES ('format', 'llmctl-store')",  # the marker twice
        "UPDATE llmctl_store SET value = 'other-tool'",
        "DROP TABLE llmctl_store",
    ],
)
def test_a_store_without_llmctls_marker_is_still_refused(
    lake: LakeSpec, as_a_new_process: Callable[[], None], damage: str
) -> None:
    Store(lake).schema_version()
    _edit(lake, damage)
    as_a_new_process()
    with pytest.raises(StoreError, match="not an llmctl store"):
        Store(lake).list_runs()


def test_a_foreign_lake_is_refused_and_left_unchanged(lake: LakeSpec, as_a_new_process: Callable[[], None]) -> None:
    con = duckdb.connect(":memory:", config=dict(schema.CONNECT_CONFIG))
    _lake.prepare_for_lake(con, lake)
    Path(lake.target).parent.mkdir(parents=True)
    con.execute(_lake.attach_lake_sql(lake, "other"))
    con.execute("CREATE TABLE other.schema_migrations (version INTEGER)")
    con.execute(f"INSERT INTO other.schema_migrations VALUES ({schema.SCHEMA_VERSION})")
    con.close()
    with pytest.raises(StoreError, match="not an llmctl store"):
        Store(lake).list_runs()
    as_a_new_process()
    con = duckdb.connect(":memory:", config=dict(schema.CONNECT_CONFIG))
    _lake.prepare_for_lake(con, lake)
    con.execute(_lake.attach_lake_sql(lake, "other"))
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'other'").fetchall()
    con.close()
    assert tables == [("schema_migrations",)]
