"""The shared store (DuckLake) in one process: config, the store's operations, copy, foreign files."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from llmctl.config import load_config
from llmctl.errors import InputError, StoreError
from llmctl.store import Store
from llmctl.store import _schema as schema
from llmctl.store._convert import storage_version
from llmctl.store._lake import LakeCursor, split_keys
from llmctl.store_location import LakeSpec, parse_store_url

sys.path.insert(0, str(Path(__file__).parent))
from store_helpers import fill, new_run, result_row, score_rows

pytest.importorskip("duckdb_extension_ducklake", reason="the `shared` extra is not installed")
# each test runs several llmctl processes, each loading the DuckLake extensions: minutes on a loaded machine
pytestmark = pytest.mark.timeout(900)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def lake_store(lake: LakeSpec) -> Store:
    return Store(lake, lock_timeout=60)


# -- where the store is -------------------------------------------------------------


def test_store_mapping_in_llmctl_yaml_selects_a_ducklake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_STORE", raising=False)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    (tmp_path / "llmctl.yaml").write_text("store:\n  ducklake: sqlite:team/cat.sqlite\n  data: s3://bucket/llmctl\n")
    cfg = load_config(tmp_path)
    assert cfg.lake == LakeSpec("sqlite", str(tmp_path / "team" / "cat.sqlite"), "s3://bucket/llmctl/")
    assert cfg.store_location == cfg.lake


def test_a_string_store_stays_a_local_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_STORE", raising=False)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    (tmp_path / "llmctl.yaml").write_text("store: my.duckdb\n")
    cfg = load_config(tmp_path)
    assert cfg.lake is None and cfg.store_location == tmp_path / "my.duckdb"


def test_llmctl_store_env_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "llmctl.yaml").write_text("store: local.duckdb\n")
    monkeypatch.setenv("LLMCTL_STORE", "ducklake:postgres:host=db dbname=llmctl password=hunter2;data=/shared/data")
    cfg = load_config(tmp_path)
    assert cfg.lake == LakeSpec("postgres", "host=db dbname=llmctl password=hunter2", "/shared/data/")
    assert "hunter2" not in cfg.store_label and "password=***" in cfg.store_label
    monkeypatch.setenv("LLMCTL_STORE", "other.duckdb")
    assert load_config(tmp_path).store_location == tmp_path / "other.duckdb"


@pytest.mark.parametrize(
    "text",
    ["ducklake:sqlite:/x.sqlite", "ducklake:mysql:host=x;data=/d", "ducklake:sqlite:/x;data=ftp://h/p"],
)
def test_bad_store_urls_are_input_errors(text: str, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        parse_store_url(text, root=tmp_path)


def test_bad_store_mapping_names_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_STORE", raising=False)
    (tmp_path / "llmctl.yaml").write_text("concurrency: 2\nstore:\n  ducklake: sqlite:x.sqlite\n")
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert info.value.line == 2 and "data" in info.value.message


# -- the schema on a DuckLake -----------------------------------------------------------


def test_split_keys_strips_and_records_primary_keys() -> None:
    table, ddl, keys = split_keys("CREATE TABLE t (id TEXT PRIMARY KEY, v INT)") or ("", "", [])
    assert (table, keys) == ("t", ["id"]) and "PRIMARY" not in ddl
    table, ddl, keys = split_keys("CREATE TABLE r (\n a TEXT NOT NULL,\n b INT,\n PRIMARY KEY (a, b)\n)") or (
        "",
        "",
        [],
    )
    assert keys == ["a", "b"] and "PRIMARY" not in ddl
    assert split_keys("SELECT 1") is None


def test_migrates_an_empty_lake_once_and_records_the_keys(lake_store: Store) -> None:
    assert lake_store.schema_version() == schema.SCHEMA_VERSION
    keys = dict(lake_store.query("SELECT table_name, key_columns FROM llmctl_lake_keys"))
    assert keys["results"] == "run_id,result_key" and keys["runs"] == "id"
    versions = [r[0] for r in lake_store.query("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == list(range(1, schema.SCHEMA_VERSION + 1))
    assert lake_store.query("SELECT version FROM llmctl_lake_head") == [(schema.SCHEMA_VERSION,)]
    cols = {r[0] for r in lake_store.query("SELECT column_name FROM duckdb_columns() WHERE table_name = 'runs'")}
    assert "gate_snapshot" in cols


def test_a_table_a_later_migration_adds_works_unchanged(lake: LakeSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another branch's migration (a keyed table, written with ON CONFLICT / OR REPLACE) needs no lake code."""

    def _m999_extra(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE extra (id TEXT PRIMARY KEY, model TEXT, n INTEGER)")
        con.execute("CREATE INDEX extra_model ON extra (model)")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _m999_extra])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    from llmctl.store import _lake

    monkeypatch.setattr(_lake, "_shared_by_spec", {})
    import llmctl.store._schema as s2

    assert s2.MIGRATIONS[-1] is _m999_extra
    store = Store(lake)

    def write(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO extra VALUES ('a', 'm', 1), ('a', 'm', 2) ON CONFLICT DO NOTHING")
        con.execute("INSERT INTO extra VALUES ('a', 'm', 3) ON CONFLICT DO NOTHING")
        con.execute("INSERT OR REPLACE INTO extra VALUES ('b', 'm', 1)")
        con.execute("INSERT OR REPLACE INTO extra VALUES (?, ?, ?)", ["b", "m", 7])

    store._db.run(write)
    rows = store.query("SELECT id, n FROM extra ORDER BY id")
    assert len(rows) == 2 and rows[1] == ("b", 7) and rows[0][0] == "a"


def test_lake_cursor_refuses_a_keyless_upsert(lake_store: Store) -> None:
    lake_store.schema_version()
    with pytest.raises(StoreError, match="no recorded key"):
        lake_store._db.run(lambda con: con.execute("INSERT INTO scores (run_id) VALUES ('x') ON CONFLICT DO NOTHING"))
    assert isinstance(LakeCursor, type)


# -- the store's operations on a DuckLake ----------------------------------------------


def test_runs_results_scores_and_dedupe(lake_store: Store) -> None:
    rid = new_run(lake_store)
    with lake_store.writer(rid, batch_rows=50) as w:
        for i in range(120):
            w.add(result_row(i), score_rows(i))
    fill(lake_store, rid, 30)  # the same keys again: ignored
    assert lake_store.query("SELECT count(*), count(DISTINCT result_key) FROM results") == [(120, 120)]
    assert lake_store.query("SELECT count(*) FROM scores") == [(240,)]
    outcomes = lake_store.outcomes(rid)
    assert len(outcomes) == 120 and sum(o.passed for o in outcomes) == 80
    with pytest.raises(InputError, match="already exists"):
        new_run(lake_store, run_id=rid)


def test_resume_replaces_an_error_result(lake_store: Store) -> None:
    rid = new_run(lake_store)
    with lake_store.writer(rid) as w:
        w.add(result_row(1, error="timeout", output=None), [])
        w.add(result_row(2), score_rows(2))
    assert lake_store.finished_keys(rid) == {
        lake_store.query("SELECT result_key FROM results WHERE error IS NULL")[0][0]
    }
    with lake_store.writer(rid) as w:
        w.add(result_row(1), score_rows(1))
    assert lake_store.query("SELECT count(*), count(error) FROM results") == [(2, 0)]
    assert lake_store.query("SELECT count(*) FROM scores") == [(4,)]


def test_finish_run_records_the_snapshot_and_stale_runs(lake_store: Store) -> None:
    rid = new_run(lake_store)
    fill(lake_store, rid, 5)
    lake_store.outcomes(rid)
    snap = lake_store.snapshot()
    assert isinstance(snap, int) and snap > 0
    lake_store.finish_run(rid, "completed", {"passed": True}, gate_snapshot=snap)
    run = lake_store.get_run(rid)
    assert run.status == "completed" and run.gate_snapshot == snap
    with pytest.raises(InputError, match="no run"):
        lake_store.finish_run("r-missing", "completed", None)


def test_labels_cache_and_prompt_versions_keep_one_row_per_key(lake_store: Store) -> None:
    lake_store.put_labels("e", [{"case_id": "a", "model": "m", "output_sha256": "x", "label": "pass"}])
    lake_store.put_labels("e", [{"case_id": "a", "model": "m", "output_sha256": "x", "label": "fail"}])
    assert [lb["label"] for lb in lake_store.labels("e")] == ["fail"]
    lake_store.cache_put_many([{"key": "k", "model": "m", "output": "first"}])
    lake_store.cache_put_many([{"key": "k", "model": "m", "output": "second"}, {"key": "k2", "output": "x"}])
    assert lake_store.cache_get_many(["k"])["k"]["output"] == "first"
    assert lake_store.query("SELECT count(*) FROM cache") == [(2,)]
    pv = {"version_hash": "sha256:1", "prompt": "p", "content": {"a": 1}}
    lake_store.put_prompt_versions([pv, pv])
    lake_store.put_prompt_versions([pv])
    assert lake_store.query("SELECT count(*) FROM prompt_versions") == [(1,)]
    assert (lake_store.get_prompt_version("sha256:1") or {})["content"] == {"a": 1}


def test_merge_shard_files_into_a_lake(lake_store: Store, tmp_path: Path) -> None:
    shards = []
    for s in range(2):
        shard = Store(tmp_path / f"shard{s}.duckdb")
        rid = new_run(shard, shard=f"{s + 1}/2")
        fill(shard, rid, 10, start=s * 10)
        shard.finish_run(rid, "completed", None)
        shards.append(shard.path)
    merged = lake_store.merge(None, shards)
    lake_store.merge(merged, shards)  # twice: nothing more
    assert lake_store.get_run(merged).n_results == 20
    assert lake_store.query("SELECT count(*) FROM scores WHERE run_id = ?", [merged]) == [(40,)]


# -- store copy -----------------------------------------------------------------------------


def test_copy_local_to_lake_and_back_is_idempotent(lake_store: Store, tmp_path: Path) -> None:
    local = Store(tmp_path / "local.duckdb")
    rid = new_run(local)
    fill(local, rid, 25)
    local.cache_put_many([{"key": "k", "output": "o"}])
    added = lake_store.copy_from(local.path)
    assert added["results"] == 25 and added["scores"] == 50 and added["runs"] == 1 and added["cache"] == 1
    again = lake_store.copy_from(local.path)
    assert sum(again.values()) == 0
    # the run finished locally since: the copy updates it, and adds nothing twice
    local.finish_run(rid, "completed", {"ok": True})
    assert lake_store.copy_from(local.path)["runs"] == 1
    assert lake_store.get_run(rid).status == "completed"
    assert lake_store.query("SELECT count(*) FROM runs") == [(1,)]
    back = Store(tmp_path / "back.duckdb")
    assert back.copy_from(lake_store.location)["results"] == 25
    assert sum(back.copy_from(lake_store.location).values()) == 0
    assert [o.case_id for o in back.outcomes(rid)] == [o.case_id for o in local.outcomes(rid)]


def test_copy_refuses_itself_and_non_stores(lake_store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="itself"):
        lake_store.copy_from(lake_store.location)
    bad = tmp_path / "x.duckdb"
    duckdb.connect(str(bad)).execute("CREATE TABLE t (a INT)").close()
    with pytest.raises(StoreError, match="not an llmctl store"):
        lake_store.copy_from(bad)


def test_store_copy_cli_both_ways(tmp_path: Path) -> None:
    from lake_project import llmctl, make_project

    root = make_project(tmp_path / "proj", "local.duckdb", cases=5)
    assert llmctl(["eval", "evalsets/e0.yaml"], root).returncode == 0
    url = f"ducklake:sqlite:{tmp_path}/lake/cat.sqlite;data={tmp_path}/lake/data"
    first = llmctl(["store", "copy", "project", url], root)
    assert first.returncode == 0, first.stderr
    assert "5 results" in first.stdout and "results" in first.stderr  # the progress bar names each table
    second = llmctl(["store", "copy", "project", url, "-q"], root)
    assert "0 results" in second.stdout and "(0 rows in all)" in second.stdout
    back = llmctl(["store", "copy", url, str(tmp_path / "back.duckdb"), "-q"], root)
    assert back.returncode == 0 and "5 results" in back.stdout
    runs = llmctl(["runs", "list", "--json"], root, LLMCTL_STORE=url)
    assert runs.returncode == 0 and '"n_results": 5' in runs.stdout
    missing = llmctl(["store", "copy", str(tmp_path / "nope.duckdb"), url], root)
    assert missing.returncode == 2 and "no such store file" in missing.stderr and "Traceback" not in missing.stderr


# -- a store written by another DuckDB ------------------------------------------------------


def _v2_store(tmp_path: Path) -> Path:
    path = tmp_path / "old" / "llmctl.duckdb"
    path.parent.mkdir()
    with gzip.open(FIXTURES / "store-duckdb-2.0.1.duckdb.gz", "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def test_a_duckdb_2_file_is_refused_untouched_with_the_convert_command(tmp_path: Path) -> None:
    path = _v2_store(tmp_path)
    assert storage_version(path) == 999
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        Store(path).list_runs()
    assert "DuckDB 2.x" in info.value.message and f"llmctl store convert {path}" in (info.value.hint or "")
    assert info.value.exit_code == 2
    assert path.read_bytes() == before and not path.with_name(path.name + ".wal").exists()


def test_cli_refuses_a_duckdb_2_store_with_exit_2(tmp_path: Path) -> None:
    from lake_project import llmctl, make_project

    path = _v2_store(tmp_path)
    root = make_project(tmp_path / "proj", str(path), cases=2)
    done = llmctl(["runs", "list"], root)
    assert done.returncode == 2, done.stderr
    assert "llmctl store convert" in done.stderr and "Traceback" not in done.stderr


def _duckdb2_python() -> str | None:
    """A Python with duckdb 2.x: LLMCTL_TEST_DUCKDB2_PYTHON (.ci/run makes one), or None."""
    py = os.environ.get("LLMCTL_TEST_DUCKDB2_PYTHON")
    return py if py and Path(py).exists() else None


@pytest.mark.skipif(_duckdb2_python() is None, reason="no Python with duckdb 2.x (set LLMCTL_TEST_DUCKDB2_PYTHON)")
def test_store_convert_moves_a_duckdb_2_store_to_this_duckdb(tmp_path: Path) -> None:
    from lake_project import llmctl, make_project

    path = _v2_store(tmp_path)
    root = make_project(tmp_path / "proj", str(path), cases=2)
    done = llmctl(["store", "convert", str(path), "--python", str(_duckdb2_python())], root)
    assert done.returncode == 0, done.stderr
    assert "1 runs, 3 results" in done.stdout
    assert storage_version(path) in range(64, 69)
    assert path.with_name(path.name + ".duckdb-999.bak").exists()
    store = Store(path)
    assert store.get_run("r20260101-000000-abcdef").n_results == 3
    assert store.schema_version() == schema.SCHEMA_VERSION  # migrated on open
    again = llmctl(["store", "convert", str(path), "--python", str(_duckdb2_python())], root)
    assert again.returncode == 2 and "nothing to convert" in again.stderr
