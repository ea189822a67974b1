"""The DuckLake key cache (`KeyCache`): the recorded key columns are read from the catalog a bounded
number of times per process, however many keyed writes it makes, and a key that another process
recorded after this one read them is still found."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from llmctl.errors import StoreError
from llmctl.store import Store, _lake
from llmctl.store import _schema as schema
from llmctl.store_location import LakeSpec

sys.path.insert(0, str(Path(__file__).parent))
from store_helpers import fill, new_run

pytest.importorskip("duckdb_extension_ducklake", reason="the `shared` extra is not installed")


def _logged_instance(store: Store) -> duckdb.DuckDBPyConnection:
    """This process's DuckDB instance for the lake, logging every statement run on any of its cursors."""
    con = store._db._instance()  # type: ignore[union-attr]
    con.execute("CALL enable_logging('QueryLog')")
    return con


def _key_reads(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT message FROM duckdb_logs WHERE type = 'QueryLog'").fetchall()
    return [str(m) for (m,) in rows if "llmctl_lake_keys" in str(m)]


def _other_process(lake: LakeSpec) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]:
    """A DuckDB instance of its own on the same lake, as another llmctl process has (its own key cache)."""
    con = duckdb.connect(":memory:", config=dict(schema.CONNECT_CONFIG))
    _lake.prepare_for_lake(con, lake)
    con.execute(_lake.attach_lake_sql(lake, _lake.LAKE_NAME))
    cur = con.cursor()
    cur.execute(f"USE {_lake.LAKE_NAME}")
    return con, cur


def test_keys_are_read_a_bounded_number_of_times_per_process(
    lake: LakeSpec, as_a_new_process: Callable[[], None]
) -> None:
    Store(lake).schema_version()  # another process made the store
    as_a_new_process()
    store = Store(lake)
    con = _logged_instance(store)
    for r in range(3):
        run_id = new_run(store)
        for batch in range(3):
            fill(store, run_id, 4, start=batch * 4)  # results and scores: ON CONFLICT / OR REPLACE writes
        for i in range(3):  # keyed writes of other tables: the cache, labels, prompt versions
            store.cache_put_many([{"key": f"k{r}-{i}", "model": "m", "output": "x"}])
            store.put_labels("e", [{"case_id": f"c{i}", "model": "m", "output_sha256": "x", "label": "pass"}])
            store.put_prompt_versions([{"version_hash": f"sha256:{r}{i}", "prompt": "p", "content": {}}])
        store.finish_run(run_id, "completed", {})
    assert store.query("SELECT count(*) FROM results") == [(36,)]
    reads = _key_reads(con)
    # one statement when the store is opened (the schema check reads the keys with the version);
    # without the cache it would be two per keyed write (over 40 here)
    assert len(reads) == 1, reads


def test_a_key_recorded_by_another_process_later_is_found(lake: LakeSpec) -> None:
    store = Store(lake)
    store.schema_version()
    assert "extra" not in (_lake._shared_by_spec[lake].keys.tables or {})  # this process's cache is filled
    other, cur = _other_process(lake)
    try:
        # another process (a newer branch's migration) adds a keyed table after this one read the keys
        _lake.LakeCursor(cur).execute("CREATE TABLE extra (id TEXT PRIMARY KEY, n INTEGER)")
    finally:
        other.close()

    def write(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO extra VALUES ('a', 1), ('a', 2) ON CONFLICT DO NOTHING")
        con.execute("INSERT INTO extra VALUES ('a', 3) ON CONFLICT DO NOTHING")
        con.execute("INSERT OR REPLACE INTO extra VALUES ('b', 1)")
        con.execute("INSERT OR REPLACE INTO extra VALUES ('b', 2)")

    store._db.run(write)
    assert store.query("SELECT id, n FROM extra ORDER BY id") == [("a", 1), ("b", 2)]
    assert _lake._shared_by_spec[lake].keys.tables is not None
    assert _lake._shared_by_spec[lake].keys.tables["extra"] == ["id"]


def test_a_table_without_a_recorded_key_is_still_refused(lake: LakeSpec) -> None:
    store = Store(lake)
    store._db.run(lambda con: con.execute("CREATE TABLE loose (id TEXT, n INTEGER)"))
    with pytest.raises(StoreError, match="no recorded key"):
        store._db.run(lambda con: con.execute("INSERT INTO loose VALUES ('a', 1) ON CONFLICT DO NOTHING"))
