"""`Store.reading()`: a viewer page's reads share one connection; writes inside are refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from llmctl.store import Store


def test_reads_inside_share_one_connection_and_writes_are_refused(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path / "s.duckdb")
    rid = store.create_run(evalset="x", config={}, git_commit=None, git_branch=None)
    opened = []
    real = duckdb.connect

    def counting(*args, **kwargs):
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr("llmctl.store._connect.connect", lambda *a, **k: counting(*a, **k))
    with store.reading():
        assert store.get_run(rid).id == rid
        assert store.query("SELECT count(*) FROM runs") == [(1,)]
        with pytest.raises(RuntimeError, match="write inside"):
            store.finish_run(rid, "completed", {})
    assert len(opened) == 1
    store.finish_run(rid, "completed", {})  # outside: writes as before
    assert store.get_run(rid).status == "completed"


def test_reading_a_store_that_does_not_exist_yet(tmp_path: Path) -> None:
    store = Store(tmp_path / "none.duckdb")
    with store.reading():
        assert store.list_runs() == []
    assert not (tmp_path / "none.duckdb").exists()
