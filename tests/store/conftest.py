from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmctl.store import Store
from llmctl.store_location import LakeSpec

sys.path.insert(0, str(Path(__file__).parent))
from services import Postgres, postgres_server


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / ".llmctl" / "llmctl.duckdb"


@pytest.fixture
def store(store_path: Path) -> Store:
    return Store(store_path, lock_timeout=10)


# -- the shared store (DuckLake) ------------------------------------------------------


@pytest.fixture
def lake(tmp_path: Path) -> LakeSpec:
    """A DuckLake in the test's folder: a SQLite catalog and Parquet data beside it."""
    return LakeSpec("sqlite", str(tmp_path / "shared" / "catalog.sqlite"), str(tmp_path / "shared" / "data") + "/")


@pytest.fixture
def as_a_new_process(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to forget what this process knows of every lake (its DuckDB instance, schema check,
    key cache), as a new llmctl process starts; undone at the end of the test."""
    from llmctl.store import _lake

    def forget() -> None:
        for shared in _lake._shared_by_spec.values():
            if shared.con is not None:
                shared.con.close()
        monkeypatch.setattr(_lake, "_shared_by_spec", {})

    return forget


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    """A PostgreSQL cluster on 127.0.0.1 for one test module (skipped where PostgreSQL is not installed)."""
    with postgres_server() as server:
        if isinstance(server, str):
            pytest.skip(server)
        yield server
