"""llmctl.store._traces.import_traces: the rows of a file staged in a temporary Parquet file, then
moved into `traces` in one transaction (first copy of a span seen twice, nothing already stored,
attribution from another span of the trace), the temporary folder removed in every case."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from llmctl.store import TRACE_FIELDS, TRACE_SCHEMA, Store, TraceBatch, _traces, import_traces


def _batch(ids: list[str], output: str = "first", **over: Any) -> TraceBatch:
    rows = []
    for i in ids:
        row: dict[str, Any] = {name: None for name in TRACE_FIELDS}
        row.update(id=i, source="otlp", output=output, trace_id=f"trace-{i}", model="m", **over)
        rows.append(row)
    return TraceBatch(pa.Table.from_pylist(rows, schema=TRACE_SCHEMA), [])


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _stored(store: Store) -> list[tuple[Any, ...]]:
    return store.query("SELECT id, output, prompt, version FROM traces ORDER BY id")


def test_first_copy_wins_across_batches_and_reimport_adds_nothing(store: Store, private_tmp: Path) -> None:
    batches = [_batch(["a", "b"]), _batch(["b", "c"], output="second"), _batch(["a"], output="third")]
    counts = import_traces(store, batches)
    assert (counts.rows, counts.inserted) == (5, 3)
    assert _stored(store) == [("a", "first", None, None), ("b", "first", None, None), ("c", "second", None, None)]
    again = import_traces(store, [_batch(["a", "b", "c", "d"], output="later")])
    assert (again.rows, again.inserted) == (4, 1)
    assert _stored(store)[-1] == ("d", "later", None, None)
    assert list(private_tmp.iterdir()) == []  # the staged files are gone


def test_attribution_from_a_naming_span_of_the_same_trace(store: Store, private_tmp: Path) -> None:
    named = TraceBatch(_batch(["x"]).table, [("trace-y", "summarize", "v3", None), ("trace-z", "p1", None, None)])
    counts = import_traces(
        store, [named, _batch(["y", "z"]), TraceBatch(_batch([]).table, [("trace-z", "p2", None, None)])]
    )
    assert counts.attributed == 1  # trace-z is named twice with two prompts: not attributed
    assert _stored(store) == [("x", "first", None, None), ("y", "first", "summarize", "v3"), ("z", "first", None, None)]


def test_an_error_while_reading_leaves_the_store_and_the_temp_folder_as_they_were(
    store: Store, private_tmp: Path
) -> None:
    import_traces(store, [_batch(["a"])])

    def failing() -> Iterator[TraceBatch]:
        yield _batch(["b", "c"])
        raise ValueError("line 7 is bad")

    with pytest.raises(ValueError, match="line 7"):
        import_traces(store, failing())
    assert _stored(store) == [("a", "first", None, None)]
    assert list(private_tmp.iterdir()) == []


def test_an_empty_file_imports_nothing(store: Store, private_tmp: Path) -> None:
    counts = import_traces(store, [])
    assert (counts.rows, counts.inserted, counts.attributed) == (0, 0, 0)
    assert _stored(store) == []


def test_row_groups_are_sized_by_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = _batch([f"r{i}" for i in range(10)], output="x" * 3000).table
    assert _traces._row_group_rows(wide) == (256 << 20) // 20 // (int(wide.nbytes) // 10)
    monkeypatch.setattr(_traces, "IMPORT_MEMORY_LIMIT", "64MB")
    assert 64 <= _traces._row_group_rows(wide) < 2048
