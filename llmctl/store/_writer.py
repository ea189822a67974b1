"""`RunWriter`: streams a run's results, scores, judge calls and cache entries into the store.

Rows are buffered and written in batches: when `batch_rows` results are
pending, every `flush_interval` seconds, on `flush()` and on `close()`. One
batch is one transaction (results, their scores, the judge calls that graded
them and cache entries together), so a result is never stored without its
scores and judge calls, and a crash loses at most the
unflushed rows. Opening the file costs ~20-40 ms (DuckDB allows one writing
process at a time, so it is opened per batch and closed again), hence the
batching.

By default a background thread does the writing, so the caller (an asyncio
runner) never blocks on disk or on another process's lock; `add()` blocks only
when `2 * batch_rows` results are pending (backpressure keeps memory small).
"""

from __future__ import annotations

import array
import datetime
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from llmctl.store._keys import result_key
from llmctl.store._records import JudgeCallRow, ResultRow, ScoreRow
from llmctl.store._schema import (
    CACHE_COLUMNS,
    JSON_COLUMNS,
    JUDGE_CALL_COLUMNS,
    RESULT_COLUMNS,
    SCORE_COLUMNS,
    transaction,
    utcnow,
)
from llmctl.types import TOKEN_FIELDS

if TYPE_CHECKING:
    from llmctl.store._store import Store

_CACHE_FIELDS = frozenset(name for name, _, _ in CACHE_COLUMNS)


# A successful result replaces a stored error for the same key (that is what --resume is for).
_REPLACED_KEYS = (
    "SELECT r.result_key FROM results r JOIN _llmctl_res n ON r.result_key = n.result_key "
    "WHERE r.run_id = $run AND r.error IS NOT NULL AND n.error IS NULL"
)
_DELETE_REPLACED = {
    table: f"DELETE FROM {table} WHERE run_id = $run AND result_key IN ({_REPLACED_KEYS})"  # noqa: S608
    for table in ("scores", "judge_calls", "results")
}


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)


def to_json(value: object) -> str | None:
    """A JSON column's text: a string that is JSON is kept as given, any other string is stored
    as a JSON string, anything else is dumped (never an error: the batch must not fail)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: a JSON string
            return _ENCODER.encode(value)
        return value
    try:
        return _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError) as exc:  # a circular or too deeply nested structure
        try:
            return _ENCODER.encode(repr(value))  # a circular one reprs as `[[...]]`
        except RecursionError:
            return _ENCODER.encode(f"<not storable as JSON: {type(exc).__name__}>")


def check_fields(row: Mapping[str, object], allowed: frozenset[str], what: str) -> None:
    if not allowed.issuperset(row):
        unknown = ", ".join(sorted(set(row) - allowed))
        raise ValueError(f"unknown {what} field(s): {unknown}")


def to_arrow(rows: list[dict[str, object]], columns: list[tuple[str, pa.DataType, object]]) -> pa.Table:
    """Column-wise Arrow table from row dicts (missing keys take the column's default)."""
    arrays = []
    for name, typ, default in columns:
        values = [r.get(name, default) for r in rows]
        if name in JSON_COLUMNS:
            values = [to_json(v) for v in values]
        arrays.append(arrow_array(values, typ))
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


def _table(
    rows: list[ResultRow] | list[ScoreRow] | list[JudgeCallRow],
    columns: list[tuple[str, pa.DataType, object]],
    own: dict[str, list[Any]],
    scrubbed: tuple[str, ...],
    scrub: Callable[[str], str],
) -> pa.Table:
    """Column-wise Arrow table of records: a column in `own` as given (a JSON column already JSON
    text), any other read from the records' attribute of its name (a JSON column encoded); API keys
    scrubbed from the `scrubbed` columns."""
    arrays = []
    for name, typ, _ in columns:
        values = own.get(name)
        if values is None:
            values = [getattr(r, name) for r in rows]
            if name in JSON_COLUMNS:
                values = [to_json(v) for v in values]
        if name in scrubbed:
            values = _scrubbed(values, scrub, json_text=name in JSON_COLUMNS)
        arrays.append(arrow_array(values, typ))
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


_EPOCH = datetime.datetime(1970, 1, 1)
_MICROSECOND = datetime.timedelta(microseconds=1)
_NUMBER_CODES = {pa.int32(): "i", pa.int64(): "q", pa.float64(): "d"}  # array module type codes


_INT_RANGE = {pa.int32(): 2**31, pa.int64(): 2**63}
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONVERSION_ERRORS = (TypeError, ValueError, OverflowError, UnicodeError, AttributeError, pa.ArrowException)


def arrow_array(values: list[Any], typ: pa.DataType) -> pa.Array:
    """`arrow_array_strict`, or, when a value does not fit the column type, the same with every
    value coerced (`coerce_value`): a lone surrogate, a huge or non-integer number never fails a batch."""
    try:
        return arrow_array_strict(values, typ)
    except _CONVERSION_ERRORS:
        return arrow_array_strict([coerce_value(v, typ) for v in values], typ)


def coerce_value(value: Any, typ: pa.DataType) -> Any:
    """`value` made to fit a store column of type `typ`, or None (NULL) where it cannot."""
    if value is None:
        return None
    if typ == pa.string():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif not isinstance(value, str):
            try:
                value = str(value)
            except Exception:
                return None
        return _SURROGATE.sub("\ufffd", value)
    limit = _INT_RANGE.get(typ)
    if limit is not None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and -limit <= value < limit:
            return int(value)
        return None
    if typ == pa.float64():
        if isinstance(value, (int, float)):
            try:
                return float(value)
            except OverflowError:
                return None
        return None
    if typ == pa.bool_():
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        return None
    if typ == pa.timestamp("us"):
        return value if isinstance(value, datetime.datetime) else None
    return value


def arrow_array_strict(values: list[Any], typ: pa.DataType) -> pa.Array:
    """`pa.array(values, type=typ)` for the store's column types, built from buffers.

    `pa.array` imports pandas on its first call (0.3-2 s on two busy cores), which
    nothing else in an eval needs. Strings, 32/64-bit ints, doubles, booleans and
    microsecond timestamps (naive UTC, or aware) are built here; other types use pa.array.
    """
    n = len(values)
    nulls = values.count(None)
    validity = _bitmap([v is not None for v in values]) if nulls else None
    if typ == pa.string():
        data = [b"" if v is None else v.encode("utf-8") for v in values]
        offsets = array.array("i", [0])
        offsets.extend(itertools.accumulate(map(len, data)))
        return pa.Array.from_buffers(typ, n, [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))], nulls)
    code = _NUMBER_CODES.get(typ)
    if code is not None:
        zero = 0.0 if code == "d" else 0
        numbers = array.array(code, [zero if v is None else v for v in values])
        return pa.Array.from_buffers(typ, n, [validity, pa.py_buffer(numbers)], nulls)
    if typ == pa.bool_():
        if not all(v is None or v is True or v is False for v in values):
            raise TypeError("a boolean column holds a value that is not a boolean")
        return pa.Array.from_buffers(typ, n, [validity, _bitmap([bool(v) for v in values])], nulls)
    if typ == pa.timestamp("us"):
        micros = array.array("q", [0 if v is None else _micros(v) for v in values])
        return pa.Array.from_buffers(typ, n, [validity, pa.py_buffer(micros)], nulls)
    return pa.array(values, type=typ)


def _bitmap(bits: list[bool]) -> pa.Buffer:
    """Arrow's LSB-first bit-packing of `bits`."""
    packed = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            packed[i >> 3] |= 1 << (i & 7)
    return pa.py_buffer(packed)


def _micros(value: datetime.datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return (value - _EPOCH) // _MICROSECOND


def _index(value: Any, name: str) -> int:
    """A NOT NULL integer column's value (None is 0); ValueError at add() for anything else."""
    if value is None:
        return 0
    if isinstance(value, int) and 0 <= value < 2**31:
        return int(value)
    raise ValueError(f"`{name}` must be a non-negative integer, got {value!r}")


def cache_record(row: Mapping[str, object]) -> dict[str, object]:
    check_fields(row, _CACHE_FIELDS, "cache")
    if not row.get("key"):
        raise ValueError("a cache row needs a `key`")
    rec = dict(row)
    if rec.get("created_at") is None:
        rec["created_at"] = utcnow()
    return rec


def insert_sql(table: str, columns: list[tuple[str, pa.DataType, object]], source: str) -> str:
    names = ", ".join(c[0] for c in columns)
    return f"INSERT INTO {table} ({names}) SELECT {names} FROM {source}"  # noqa: S608


_NEW_KEYS_ONLY = " WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.run_id = ? AND r.result_key = s.result_key)"
_INSERT_NEW_SCORES = insert_sql("scores", SCORE_COLUMNS, "_llmctl_sc s") + _NEW_KEYS_ONLY
_INSERT_NEW_JUDGE_CALLS = insert_sql("judge_calls", JUDGE_CALL_COLUMNS, "_llmctl_jc s") + _NEW_KEYS_ONLY


# Columns holding text from models, evaluators and evalsets: API keys are scrubbed from them.
_SCRUBBED = {
    "results": ("input", "expected", "output", "error"),
    "scores": ("reason", "error"),
    "judge_calls": ("error",),
    "cache": ("output",),
}


def _scrub_rows(rows: list[dict[str, Any]], columns: tuple[str, ...], scrub_text: Callable[[str], str]) -> None:
    """Replace every known API key (in every form, see llmctl.models._credentials) in `columns`, in place."""
    for row in rows:
        for name in columns:
            value = row.get(name)
            if isinstance(value, str) and value:
                row[name] = scrub_text(value)


def _scrubbed(values: list[Any], scrub_text: Callable[[str], str], json_text: bool = False) -> list[Any]:
    """`values` with every known API key replaced (`json_text`: values are JSON text, and one
    that scrubbing changed is made JSON again, as `to_json` would)."""
    out = []
    for value in values:
        if isinstance(value, str) and value:
            clean = scrub_text(value)
            value = to_json(clean) if json_text and clean != value else clean
        out.append(value)
    return out


# A queued result: the row, its key, its repeat index (validated) and its `input` and `expected` as JSON text.
_Queued = tuple[ResultRow, str, int, "str | None", "str | None"]
_QueuedScore = tuple[ScoreRow, str, int, "str | None"]  # the row, its result's key, its position, its config (JSON)
_QueuedJudge = tuple[JudgeCallRow, str, int, int]  # the row, its result's key, idx, call_index (validated)


class RunWriter:
    """Buffered, batched writes of one run's results. Use as a context manager or call `close()`."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        batch_rows: int = 5000,
        flush_interval: float = 0.5,
        background: bool = True,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.batch_rows = max(1, batch_rows)
        self.flush_interval = flush_interval
        self.max_pending = 2 * self.batch_rows
        self.results_written = 0  # result rows handed to the store (duplicates included)
        self.flushes = 0
        self._results: list[_Queued] = []
        self._scores: list[_QueuedScore] = []
        self._judge: list[_QueuedJudge] = []
        self._cache: list[dict[str, Any]] = []
        self._pending_keys: set[str] = set()
        self._last_flush = time.monotonic()
        self._cv = threading.Condition()
        self._flush_lock = threading.Lock()
        self._error: BaseException | None = None
        self._closing = False
        self._closed = False
        # A successful result may replace a stored error for the same key (resume).
        self._replace_errors = store._run_has_errors(run_id)
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._loop, name=f"llmctl-store-writer-{run_id}", daemon=True)
            self._thread.start()

    # -- public --------------------------------------------------------------

    def add(
        self,
        result: ResultRow,
        scores: Iterable[ScoreRow] = (),
        judge_calls: Iterable[JudgeCallRow] = (),
    ) -> None:
        """Queue one result, its scores and the model calls its evaluators made (a `JudgeCallRow`'s
        `idx` is its score's position). A result key already queued or stored is ignored; a row
        without `prompt`, `case_id` or `model`, or with a negative index, is a ValueError here."""
        queued = self._queued(result)
        key = queued[1]
        score_items = [self._queued_score(key, i, s) for i, s in enumerate(scores)]
        judge_items = [self._queued_judge(key, j) for j in judge_calls]
        with self._cv:
            self._raise_pending_error()
            if self._closed:
                raise RuntimeError("RunWriter is closed")
            if key in self._pending_keys:
                return
            self._pending_keys.add(key)
            self._results.append(queued)
            self._scores.extend(score_items)
            self._judge.extend(judge_items)
            pending = len(self._results)
            if self._thread is not None:
                if pending >= self.batch_rows:
                    self._cv.notify_all()
                while len(self._results) >= self.max_pending and self._error is None:
                    self._cv.wait(timeout=0.5)
                self._raise_pending_error()
                return
        if pending >= self.batch_rows or time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def add_cache(self, row: Mapping[str, object]) -> None:
        """Queue one cache entry (`key`, `model`, `output`, tokens, cost, latency...)."""
        rec = cache_record(row)
        with self._cv:
            self._raise_pending_error()
            self._cache.append(rec)

    def flush(self) -> None:
        """Write everything queued now, in one transaction."""
        self._flush_now()
        with self._cv:
            self._raise_pending_error()

    def close(self) -> None:
        """Write what is left and stop the background thread. Safe to call twice."""
        if self._closed:
            return
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._closed = True
        with self._cv:
            self._error = None  # the final flush below retries whatever an earlier one left
        self.flush()

    @property
    def interval(self) -> float:
        """Seconds to wait before the next time-based write: `flush_interval`. (Growing it cut a
        long run's write CPU but broke the promise that a kill loses at most ~1 s of answers.)"""
        return self.flush_interval

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    @staticmethod
    def _queued(row: ResultRow) -> _Queued:
        if row.prompt is None or row.case_id is None or row.model is None:
            missing = next(n for n in ("prompt", "case_id", "model") if getattr(row, n) is None)
            raise ValueError(f"a result row needs `{missing}`")
        repeat_index = _index(row.repeat_index, "repeat_index")
        key = row.result_key or result_key(row.prompt, str(row.case_id), row.model, repeat_index)
        value = row.input
        if isinstance(value, list):
            from llmctl.images import redact

            value = redact(value)  # an image is kept as its sha256, never its bytes
        return row, key, repeat_index, to_json(value), to_json(row.expected)

    @staticmethod
    def _queued_score(key: str, index: int, row: ScoreRow) -> _QueuedScore:
        if not row.evaluator:
            raise ValueError("a score row needs `evaluator` (the evaluator's name)")
        return row, key, index if row.idx is None else _index(row.idx, "idx"), to_json(row.config)

    @staticmethod
    def _queued_judge(key: str, row: JudgeCallRow) -> _QueuedJudge:
        if not row.evaluator:
            raise ValueError("a judge call row needs `evaluator` (the evaluator's name)")
        return row, key, _index(row.idx, "idx"), _index(row.call_index, "call_index")

    def _results_table(self, queued: list[_Queued], now: datetime.datetime, scrub: Callable[[str], str]) -> pa.Table:
        rows = [q[0] for q in queued]
        usages = [r.usage for r in rows]
        own: dict[str, list[Any]] = {
            "run_id": [self.run_id] * len(rows),
            "result_key": [q[1] for q in queued],
            "repeat_index": [q[2] for q in queued],
            "input": [q[3] for q in queued],
            "expected": [q[4] for q in queued],
            "case_id": [str(r.case_id) for r in rows],
            "created_at": [now] * len(rows),
        }
        for name in TOKEN_FIELDS:
            own[name] = [getattr(u, name) for u in usages]
        return _table(rows, RESULT_COLUMNS, own, _SCRUBBED["results"], scrub)

    def _scores_table(self, queued: list[_QueuedScore], scrub: Callable[[str], str]) -> pa.Table:
        own: dict[str, list[Any]] = {
            "run_id": [self.run_id] * len(queued),
            "result_key": [q[1] for q in queued],
            "idx": [q[2] for q in queued],
            "config": [q[3] for q in queued],
        }
        return _table([q[0] for q in queued], SCORE_COLUMNS, own, _SCRUBBED["scores"], scrub)

    def _judge_table(self, queued: list[_QueuedJudge], now: datetime.datetime, scrub: Callable[[str], str]) -> pa.Table:
        rows = [q[0] for q in queued]
        own: dict[str, list[Any]] = {
            "run_id": [self.run_id] * len(rows),
            "result_key": [q[1] for q in queued],
            "idx": [q[2] for q in queued],
            "call_index": [q[3] for q in queued],
            "created_at": [now] * len(rows),
        }
        for name in TOKEN_FIELDS:
            own[name] = [getattr(r.usage, name) for r in rows]
        return _table(rows, JUDGE_CALL_COLUMNS, own, _SCRUBBED["judge_calls"], scrub)

    def _loop(self) -> None:
        while True:
            with self._cv:
                if not self._closing and len(self._results) < self.batch_rows:
                    self._cv.wait(timeout=self.interval)
                closing = self._closing
            self._flush_now()
            if closing:
                return

    def _flush_now(self) -> None:
        with self._flush_lock:
            with self._cv:
                results, scores, judges, cache = self._results, self._scores, self._judge, self._cache
                if not (results or scores or cache):
                    self._last_flush = time.monotonic()
                    return
                self._results, self._scores, self._judge, self._cache = [], [], [], []
                self._pending_keys = set()
            try:
                self._write(results, scores, cache, judges)
            except BaseException as exc:
                with self._cv:  # keep the rows for the next attempt (close retries once more)
                    self._results = results + self._results
                    self._scores = scores + self._scores
                    self._judge = judges + self._judge
                    self._cache = cache + self._cache
                    self._pending_keys.update(q[1] for q in results)
                    self._error = exc
                    self._cv.notify_all()
                return
            with self._cv:
                self.results_written += len(results)
                self.flushes += 1
                self._last_flush = time.monotonic()
                self._cv.notify_all()

    def _write(
        self,
        results: list[_Queued],
        scores: list[_QueuedScore],
        cache: list[dict[str, Any]],
        judges: list[_QueuedJudge],
    ) -> None:
        from llmctl.models._credentials import scrubber

        now = utcnow()
        scrub_text = scrubber()
        _scrub_rows(cache, _SCRUBBED["cache"], scrub_text)
        res_tbl = self._results_table(results, now, scrub_text) if results else None
        sc_tbl = self._scores_table(scores, scrub_text) if scores else None
        jc_tbl = self._judge_table(judges, now, scrub_text) if judges else None
        cache_tbl = to_arrow(cache, CACHE_COLUMNS) if cache else None
        run_id = self.run_id
        replace_errors = self._replace_errors

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            def write() -> None:
                if res_tbl is not None:
                    con.register("_llmctl_res", res_tbl)
                    if replace_errors:
                        for table in ("scores", "judge_calls", "results"):
                            con.execute(_DELETE_REPLACED[table], {"run": run_id})
                if sc_tbl is not None:
                    con.register("_llmctl_sc", sc_tbl)
                    # Scores of a result that is already stored are dropped with it (first wins).
                    con.execute(_INSERT_NEW_SCORES, [run_id])
                if jc_tbl is not None:
                    con.register("_llmctl_jc", jc_tbl)
                    # Like scores: the judge calls of a result that is already stored are dropped with it.
                    con.execute(_INSERT_NEW_JUDGE_CALLS, [run_id])
                if res_tbl is not None:
                    con.execute(insert_sql("results", RESULT_COLUMNS, "_llmctl_res") + " ON CONFLICT DO NOTHING")
                if cache_tbl is not None:
                    con.register("_llmctl_cache", cache_tbl)
                    con.execute(insert_sql("cache", CACHE_COLUMNS, "_llmctl_cache") + " ON CONFLICT DO NOTHING")

            transaction(con, write)

        self.store._db.run(tx)
