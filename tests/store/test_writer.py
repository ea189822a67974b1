from __future__ import annotations

import time

import pytest
from store_helpers import new_run, result_row, score_rows

from llmctl.errors import InputError
from llmctl.store import JudgeCallRow, ResultRow, ScoreRow, Store, result_key
from llmctl.types import Usage


def counts(store: Store, run_id: str) -> tuple[int, int]:
    # through the store: a raw duckdb.connect here would race the writer thread
    ((results, scores),) = store.query(
        "SELECT (SELECT count(*) FROM results WHERE run_id = $r), (SELECT count(*) FROM scores WHERE run_id = $r)",
        {"r": run_id},
    )
    return results, scores


def test_result_key_is_stable_and_short() -> None:
    k = result_key("summarize", "case-1", "echo", 0)
    assert k == result_key("summarize", "case-1", "echo", 0)
    assert len(k) == 16 and int(k, 16) >= 0
    assert len({k, result_key("summarize", "case-1", "echo", 1), result_key("summarize", "case-11", "echo", 0)}) == 3
    assert k == "6f37acbd3f3c9ce5"  # part of the stored format: --resume and merge match on it


def test_writer_flushes_on_batch_size(store: Store) -> None:
    rid = new_run(store)
    w = store.writer(rid, batch_rows=10, flush_interval=60, background=False)
    for i in range(9):
        w.add(result_row(i), score_rows(i))
    assert counts(store, rid) == (0, 0)
    w.add(result_row(9), score_rows(9))
    assert counts(store, rid) == (10, 20)
    w.add(result_row(10), score_rows(10))
    w.close()
    assert counts(store, rid) == (11, 22)
    assert w.flushes == 2 and w.results_written == 11
    w.close()  # twice is fine
    with pytest.raises(RuntimeError):
        w.add(result_row(11), [])


def test_background_writer_flushes_on_time(store: Store) -> None:
    rid = new_run(store)
    with store.writer(rid, batch_rows=1000, flush_interval=0.05) as w:
        w.add(result_row(0), score_rows(0))
        deadline = time.monotonic() + 5
        while counts(store, rid) != (1, 2) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert counts(store, rid) == (1, 2)
        for i in range(1, 2500):
            w.add(result_row(i), score_rows(i))
    assert counts(store, rid) == (2500, 5000)


def test_stored_rows_round_trip(store: Store) -> None:
    rid = new_run(store)
    with store.writer(rid) as w:
        w.add(
            result_row(1, expected={"label": "refund"}, ttft_ms=12.0, cached=True, retries=2, score=0.5),
            [ScoreRow("regex", config={"type": "regex", "pattern": "^a"}, score=0.0, passed=False, reason="no match")],
        )
    table = store.results_table(rid).to_pylist()
    assert len(table) == 1
    row = table[0]
    assert row["run_id"] == rid
    assert row["result_key"] == result_key("summarize", "case-1", "echo", 0)
    assert row["input"] == '{"messages": [{"content": "ticket 1", "role": "user"}]}'
    assert row["expected"] == '{"label": "refund"}'
    assert (row["ttft_ms"], row["cached"], row["retries"], row["score"]) == (12.0, True, 2, 0.5)
    assert row["created_at"] is not None
    assert row["scores"] == [
        {"evaluator": "regex", "score": 0.0, "passed": False, "reason": "no match", "error": None,
         "config": '{"pattern": "^a", "type": "regex"}'}
    ]  # fmt: skip
    flat = store.results_table(rid, with_scores=False)
    assert "scores" not in flat.column_names and flat.num_rows == 1


def test_duplicates_keep_the_first(store: Store) -> None:
    rid = new_run(store)
    with store.writer(rid, batch_rows=3, background=False) as w:
        for i in range(5):
            w.add(result_row(i), score_rows(i))
        w.add(result_row(0, output="second copy in the same batch"), score_rows(0))
        w.add(result_row(1, output="second copy in a later batch"), [ScoreRow("extra", score=1, passed=True)])
    with store.writer(rid) as w:  # a later writer (a resume) cannot duplicate either
        for i in range(5):
            w.add(result_row(i, output="third"), score_rows(i))
    assert counts(store, rid) == (5, 10)
    outputs = {o.case_id: o.output for o in store.outcomes(rid)}
    assert outputs == {f"case-{i}": f"summary {i}" for i in range(5)}
    assert all(set(o.scores) == {"contains", "judge"} for o in store.outcomes(rid))


def test_resume_replaces_errors_with_results(store: Store) -> None:
    rid = new_run(store)
    with store.writer(rid) as w:
        w.add(result_row(0), score_rows(0))
        w.add(result_row(1, output=None, error="rate limited", passed=False), [])
        w.add(
            result_row(2, output=None, error="timeout", passed=False),
            [ScoreRow("contains", score=0, passed=False, error="no output")],
        )
    assert store.finished_keys(rid) == {result_key("summarize", "case-0", "echo", 0)}
    with store.writer(rid) as w:
        w.add(result_row(0, output="must not replace a good result"), score_rows(0))
        w.add(result_row(1), score_rows(1))
        w.add(result_row(2, output=None, error="timeout again", passed=False), [])
    by_case = {o.case_id: o for o in store.outcomes(rid)}
    assert by_case["case-0"].output == "summary 0"
    assert by_case["case-1"].error is None and by_case["case-1"].output == "summary 1"
    assert set(by_case["case-1"].scores) == {"contains", "judge"}
    assert by_case["case-2"].error == "timeout"
    assert counts(store, rid) == (3, 5)
    assert len(store.finished_keys(rid)) == 2


def test_rows_are_validated(store: Store) -> None:
    rid = new_run(store)
    with pytest.raises(TypeError, match="outptu"):  # a misspelt field: the record type refuses it
        ResultRow(prompt="p", case_id="c", model="m", outptu="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="scroe"):
        ScoreRow("x", scroe=1)  # type: ignore[call-arg]
    with store.writer(rid) as w:
        with pytest.raises(ValueError, match="needs `case_id`"):
            w.add(ResultRow(prompt="p", case_id=None, model="m"), [])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="needs `evaluator`"):
            w.add(result_row(0), [ScoreRow("", score=1)])
        with pytest.raises(ValueError, match="needs `evaluator`"):
            w.add(result_row(0), [], [JudgeCallRow("")])
        with pytest.raises(ValueError, match="`repeat_index` must be a non-negative integer"):
            w.add(result_row(0, repeat_index=-1), [])
        with pytest.raises(ValueError, match="`call_index` must be a non-negative integer"):
            w.add(result_row(0), [], [JudgeCallRow("judge", call_index=-2)])
        with pytest.raises(ValueError, match="cache"):
            w.add_cache({"model": "m"})
    assert counts(store, rid) == (0, 0)


def test_judge_calls_are_stored_with_their_result(store: Store) -> None:
    rid = new_run(store)
    calls = [
        JudgeCallRow("judge", model="gpt", usage=Usage(30, 2, cached_tokens=10), cost_usd=0.01, latency_ms=5.0),
        JudgeCallRow("judge", model="gpt", call_index=1, cached=True, error="HTTP 500"),
    ]
    with store.writer(rid) as w:
        w.add(result_row(0), score_rows(0), calls)
    rows = store.query(
        "SELECT evaluator, idx, call_index, model, prompt_tokens, completion_tokens, cached_tokens, cost_usd, "
        "cached, error, result_key, created_at IS NOT NULL FROM judge_calls WHERE run_id = $r ORDER BY call_index",
        {"r": rid},
    )
    key = result_key("summarize", "case-0", "echo", 0)
    assert rows == [
        ("judge", 0, 0, "gpt", 30, 2, 10, 0.01, False, None, key, True),
        ("judge", 0, 1, "gpt", None, None, None, 0.0, True, "HTTP 500", key, True),
    ]


def test_writer_needs_an_existing_run(store: Store) -> None:
    new_run(store)
    with pytest.raises(InputError, match="no run rmissing"):
        store.writer("rmissing")


def test_writer_cache_entries_go_in_the_same_transaction(store: Store) -> None:
    rid = new_run(store)
    with store.writer(rid, background=False) as w:
        w.add(result_row(0), score_rows(0))
        w.add_cache({"key": "k0", "model": "echo", "output": "summary 0", "prompt_tokens": 3, "cost_usd": 0.5})
    got = store.cache_get_many(["k0", "k1"])
    assert list(got) == ["k0"]
    assert got["k0"]["output"] == "summary 0" and got["k0"]["prompt_tokens"] == 3
