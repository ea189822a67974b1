"""The writer never fails a batch for a value that does not fit its column: it is coerced or NULL."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from store_helpers import new_run, result_row

from llmctl.store import ScoreRow, Store
from llmctl.store._writer import arrow_array, coerce_value, to_json
from llmctl.types import Usage

ODD = {
    "surrogate-output": {"output": "a \ud800 b", "error": None},
    "surrogate-error": {"output": None, "error": "bad \udfff"},
    "huge-tokens": {"usage": Usage(10**30, -(2**70))},
    "float-tokens": {"usage": Usage(1.5, 12.0)},
    "string-tokens": {"usage": Usage("ten", [1])},
    "number-output": {"output": 42},
    "object-output": {"output": {"a": 1}},
    "bytes-output": {"output": b"\xffraw"},
    "odd-floats": {"cost_usd": "free", "latency_ms": 10**400, "score": math.nan},
    "odd-bool": {"passed": "yes", "cached": 1},
    "bad-json": {"expected": "not json {", "input": {"m": "\ud800", "n": math.nan}},
    "circular": {"input": None},
}


def test_a_batch_of_odd_values_is_stored_whole(store: Store) -> None:
    rid = new_run(store)
    circular: list[object] = []
    circular.append(circular)
    with store.writer(rid, background=False) as w:
        for i, (case, extra) in enumerate(ODD.items()):
            row = result_row(i, case_id=case, **(extra if case != "circular" else {"input": circular}))
            w.add(row, [ScoreRow("x", reason="r \ud83d", score=10**400, passed=True)])
        w.add(result_row(99, case_id="good"))
    rows = {
        r[0]: r[1:]
        for r in store.query(
            "SELECT case_id, output, error, prompt_tokens, completion_tokens, expected, cost_usd, passed "
            "FROM results WHERE run_id = $r",
            {"r": rid},
        )
    }
    assert set(rows) == {*ODD, "good"}
    assert rows["surrogate-output"][0] == "a \ufffd b"
    assert rows["surrogate-error"][1] == "bad \ufffd"
    assert rows["huge-tokens"][2:4] == (None, None)
    assert rows["float-tokens"][2:4] == (None, 12)
    assert rows["string-tokens"][2:4] == (None, None)
    assert rows["number-output"][0] == "42"
    assert rows["bytes-output"][0] == "\ufffdraw"
    assert rows["bad-json"][4] == '"not json {"'
    assert rows["odd-floats"][5] is None
    assert rows["odd-bool"][6] is None
    assert rows["good"][0] == "summary 99"
    (n_scores,) = store.query("SELECT count(*) FROM scores WHERE run_id = $r", {"r": rid})[0]
    assert n_scores == len(ODD)


@pytest.mark.parametrize(
    ("value", "typ", "expected"),
    [
        ("ok", pa.string(), "ok"),
        ("\ud800", pa.string(), "\ufffd"),
        (3, pa.string(), "3"),
        (2**31, pa.int32(), None),
        (2**31 - 1, pa.int32(), 2**31 - 1),
        (2**63, pa.int64(), None),
        (7.0, pa.int64(), 7),
        (math.inf, pa.int64(), None),
        (10**400, pa.float64(), None),
        ("1.5", pa.float64(), None),
        (True, pa.bool_(), True),
        ("x", pa.timestamp("us"), None),
    ],
)
def test_coerce_value(value: object, typ: pa.DataType, expected: object) -> None:
    assert coerce_value(value, typ) == expected


def test_arrow_array_fast_path_is_unchanged() -> None:
    assert arrow_array(["a", None, "b"], pa.string()).to_pylist() == ["a", None, "b"]
    assert arrow_array([1, None, 10**30], pa.int64()).to_pylist() == [1, None, None]


def test_to_json_keeps_json_and_quotes_the_rest() -> None:
    assert to_json('{"a": 1}') == '{"a": 1}'
    assert to_json("plain") == '"plain"'
    assert to_json(None) is None
