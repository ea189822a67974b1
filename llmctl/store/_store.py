"""`Store`: the DuckDB file that holds runs, results, scores, prompt versions and the cache."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal, cast

import duckdb
import pyarrow as pa

import llmctl
from llmctl.errors import InputError
from llmctl.fmt import json_default as fmt_json_default
from llmctl.store._connect import Connector
from llmctl.store._keys import new_run_id
from llmctl.store._lake import LakeConnector
from llmctl.store._records import RunConfig, RunRecord
from llmctl.store._schema import (
    CACHE_COLUMNS,
    JUDGE_CALL_COLUMNS,
    PROMPT_VERSION_COLUMNS,
    RESULT_COLUMNS,
    RUN_STATUSES,
    SCORE_COLUMNS,
    current_version,
    first_row,
    transaction,
    utcnow,
)
from llmctl.store._shards import check_mergeable, merge_runs
from llmctl.store._writer import (
    RunWriter,
    arrow_array,
    cache_record,
    check_fields,
    insert_sql,
    to_arrow,
    to_json,
)
from llmctl.store_location import LakeSpec
from llmctl.types import CaseOutcome, Usage

ExportFormat = Literal["json", "jsonl", "csv", "parquet", "otlp"]
# (candidate outcomes, baseline outcomes or None) -> (summary, baseline summary or None)
MergeFinish = Callable[[list[CaseOutcome], "list[CaseOutcome] | None"], tuple[dict[str, Any], "dict[str, Any] | None"]]
# otlp: OTLP/JSON spans with gen_ai.evaluation.result events (llmctl.traces._otlp_export)
EXPORT_FORMATS: tuple[str, ...] = ("json", "jsonl", "csv", "parquet", "otlp")
# the parameters of one SQL statement: positional (`?`) or named (`$name`)
SQLParams = Sequence[object] | Mapping[str, object] | None

_RUN_COLUMNS = (
    "id, started_at, finished_at, status, git_commit, git_branch, evalset, config, "
    "baseline_run_id, summary, llmctl_version, shard, gate_snapshot"
)
_RESULT_NAMES = ", ".join(f"r.{c[0]}" for c in RESULT_COLUMNS)
_PROMPT_VERSION_FIELDS = frozenset(c[0] for c in PROMPT_VERSION_COLUMNS)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _loads(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else text


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many small acyclic objects are built.

    Reading a 100,000-result run allocates ~500,000 objects; each allocation burst
    triggers collections that rescan everything built so far (a third of the time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_FETCH_ROWS = 10_000  # rows of a large read turned into Python objects at a time


def _run_record(row: tuple[Any, ...]) -> RunRecord:
    """A `RunRecord` from a row of `_RUN_COLUMNS` and the counts of `Store._runs_with_counts`."""
    (rid, started, finished, status, commit, branch, evalset, config, baseline, summary, version, shard, snapshot,
     n_results, n_errors, n_passed, n_unscored, cost, prompts, models) = row  # fmt: skip
    config = _loads(config)
    summary = _loads(summary)
    return RunRecord(
        id=rid,
        started_at=started,
        finished_at=finished,
        status=status,
        git_commit=commit,
        git_branch=branch,
        evalset=evalset,
        config=cast(RunConfig, config) if isinstance(config, dict) else RunConfig(),
        baseline_run_id=baseline,
        summary_json=summary if isinstance(summary, dict) else None,
        llmctl_version=version,
        shard=shard,
        gate_snapshot=snapshot,
        n_results=n_results,
        n_errors=n_errors,
        n_passed=n_passed,
        n_unscored=n_unscored,
        cost_usd=cost,
        prompts=tuple(prompts),
        models=tuple(models),
    )


class _Interner:
    """One object for equal short strings of one read (at most `cap` distinct ones kept):
    a 100,000-result run repeats its prompt, model, version, evaluator names and reasons."""

    __slots__ = ("cap", "seen")

    def __init__(self, cap: int = 50_000) -> None:
        self.seen: dict[str, str] = {}
        self.cap = cap

    def __call__(self, value: Any) -> Any:
        if type(value) is not str or len(value) > 200:
            return value
        got = self.seen.get(value)
        if got is not None:
            return got
        if len(self.seen) < self.cap:
            self.seen[value] = value
        return value


def _add_scores(
    rows: list[tuple[Any, ...]],
    by_key: dict[str, tuple[dict[str, float], dict[str, bool], dict[str, str]]],
    critical: dict[str, list[str]],
    same: _Interner,
) -> None:
    get = by_key.get
    for key, name, value, ok, reason, is_critical in rows:
        name = same(name)
        reason = same(reason)
        dicts = get(key)
        if dicts is None:
            by_key[key] = ({name: value}, {name: ok}, {name: reason})
        else:
            values, oks, reasons = dicts
            if name in values:
                n = 2
                while f"{name}#{n}" in values:
                    n += 1
                name = same(f"{name}#{n}")
            values[name] = value
            oks[name] = ok
            reasons[name] = reason
        if is_critical:
            critical.setdefault(key, []).append(name)


def _add_outcomes(
    rows: list[tuple[Any, ...]],
    by_key: dict[str, tuple[dict[str, float], dict[str, bool], dict[str, str]]],
    critical: dict[str, list[str]],
    same: _Interner,
    out: list[CaseOutcome],
) -> None:
    get = by_key.get
    append = out.append
    for (
        key,
        prompt,
        model,
        case_id,
        rep,
        passed,
        error,
        cost,
        latency,
        cached,
        output,
        vh,
        calls,
        p_tokens,
        c_tokens,
        cached_tokens,
        reasoning_tokens,
        cache_write_tokens,
        j_n,
        j_p,
        j_c,
        j_spent,
        j_saved,
        batched,
    ) in rows:
        dicts = get(key)
        values, oks, reasons = dicts if dicts is not None else ({}, {}, {})
        # NULL passed, no error and no verdict of any evaluator: unscored (an unlabelled `human`)
        unscored = passed is None and error is None and not oks
        if passed is None:
            passed = not unscored and error is None and all(oks.values())
        append(
            CaseOutcome(
                prompt=same(prompt),
                model=same(model),
                case_id=case_id,
                repeat_index=rep,
                passed=bool(passed) and error is None,
                unscored=unscored,
                error=error,
                scores=values,
                evaluator_passed=oks,
                reasons=reasons,
                cost_usd=cost or 0.0,
                latency_ms=latency or 0.0,
                cached=bool(cached),
                batched=bool(batched),
                output=same(output),
                version_hash=same(vh) or "",
                critical=critical.get(key, []),
                tool_calls=_loads(calls) if calls else None,
                usage=Usage(
                    p_tokens,
                    c_tokens,
                    cached_tokens=cached_tokens,
                    reasoning_tokens=reasoning_tokens,
                    cache_write_tokens=cache_write_tokens,
                ),
                judge_calls=int(j_n or 0),
                judge_prompt_tokens=int(j_p or 0),
                judge_completion_tokens=int(j_c or 0),
                judge_cost_usd=float(j_spent or 0.0),
                judge_saved_usd=float(j_saved or 0.0),
            )
        )


class Store:
    """The llmctl store at `path` (created on first write; reads of a missing file see an empty store).

    Every method opens the file, runs one short transaction and closes it, so
    several llmctl processes can share a store; see `llmctl.store._connect`.
    """

    new_run_id = staticmethod(new_run_id)

    def __init__(
        self,
        path: Path | str | LakeSpec,
        lock_timeout: float = 60,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.location: Path | LakeSpec = path if isinstance(path, LakeSpec) else Path(path)
        self._db: Connector | LakeConnector
        if isinstance(self.location, LakeSpec):
            self._db = LakeConnector(self.location, lock_timeout=lock_timeout, on_wait=on_wait)
        else:
            self._db = Connector(self.location, lock_timeout=lock_timeout, on_wait=on_wait)
        self.lock_timeout = lock_timeout
        self.on_wait = on_wait

    @property
    def path(self) -> Path:
        """The store file; for a shared (DuckLake) store, a local path its lock files are named after."""
        return self._db.path

    @property
    def is_lake(self) -> bool:
        return isinstance(self._db, LakeConnector)

    @property
    def where(self) -> str:
        """The store, for messages (a DuckLake's catalog without its password)."""
        return self._db.where

    def snapshot(self) -> int | None:
        """The DuckLake snapshot id the latest read saw (None for a local file, or before any read)."""
        return self._db.last_snapshot if isinstance(self._db, LakeConnector) else None

    def __repr__(self) -> str:
        return f"Store({self.where!r})"

    def schema_version(self) -> int:
        """The store's applied schema version (migrating an older store first)."""
        return self._db.run(current_version, read_only=True)

    def reading(self) -> AbstractContextManager[None]:
        """A block in which this thread's reads share one connection (no writes inside it)."""
        return self._db.reading()

    def query(self, sql: str, params: SQLParams = None) -> list[tuple[object, ...]]:
        """Run one read-only SQL query against the store (for tests, debugging and ad-hoc reports)."""
        return self._db.run(lambda con: con.execute(sql, params).fetchall(), read_only=True)

    def queries(self, *statements: tuple[str, SQLParams]) -> list[list[tuple[object, ...]]]:
        """Several read-only queries on one connection (one open instead of one each)."""
        return self._db.run(lambda con: [con.execute(sql, params).fetchall() for sql, params in statements],
                            read_only=True)  # fmt: skip

    # -- runs ------------------------------------------------------------------

    def create_run(
        self,
        run_id: str | None = None,
        *,
        evalset: str | None,
        config: Mapping[str, object],
        git_commit: str | None,
        git_branch: str | None,
        baseline_run_id: str | None = None,
        shard: str | None = None,
    ) -> str:
        """Record a new run with status `running`; returns its id."""
        rid = run_id or new_run_id()
        row = [
            rid,
            utcnow(),
            evalset,
            to_json(dict(config)),
            git_commit,
            git_branch,
            baseline_run_id,
            llmctl.__version__,
            shard,
        ]

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            if con.execute("SELECT 1 FROM runs WHERE id = ?", [rid]).fetchall():
                raise InputError(f"run {rid} already exists in {self.where}")
            con.execute(
                "INSERT INTO runs (id, started_at, status, evalset, config, git_commit, git_branch, "
                "baseline_run_id, llmctl_version, shard) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        self._db.run(tx)
        return rid

    def resume_run(self, run_id: str) -> RunRecord:
        """Mark an existing run `running` again (for `--resume`); returns it."""
        run = self.get_run(run_id)
        self._db.run(
            lambda con: con.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", [run.id])
        )
        return self.get_run(run.id)

    def finish_run(
        self, run_id: str, status: str, summary: Mapping[str, object] | None, *, gate_snapshot: int | None = None
    ) -> None:
        """Set a run's final status (`completed`, `failed`, `interrupted`), end time and summary;
        `gate_snapshot`: the DuckLake snapshot its verdict was computed from (see `snapshot()`)."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(RUN_STATUSES)}")
        text = to_json(dict(summary)) if summary is not None else None

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            def write() -> None:
                # (no UPDATE ... RETURNING: a DuckLake has none)
                if not con.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchall():
                    raise InputError(f"no run {run_id} in {self.where}")
                con.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, summary = ?, gate_snapshot = ? WHERE id = ?",
                    [status, utcnow(), text, gate_snapshot, run_id],
                )

            transaction(con, write)

        self._db.run(tx)

    def writer(
        self,
        run_id: str,
        *,
        batch_rows: int = 5000,
        flush_interval: float = 0.5,
        background: bool = True,
    ) -> RunWriter:
        """A buffered writer for the results of `run_id` (which must exist).

        On a shared (DuckLake) store a batch waits at least 2 s: each batch is a commit (a
        snapshot) that every other writer's commit queues behind."""
        if self.is_lake:
            flush_interval = max(flush_interval, 2.0)
        return RunWriter(self, run_id, batch_rows=batch_rows, flush_interval=flush_interval, background=background)

    def get_run(self, run_id_or_prefix: str) -> RunRecord:
        """One run by id, unique id prefix, or `latest`; with result counts."""

        def q(con: duckdb.DuckDBPyConnection) -> RunRecord:
            rid = self._resolve(con, run_id_or_prefix)
            return self._runs_with_counts(con, [rid])[0]

        return self._db.run(q, read_only=True)

    def list_runs(self, limit: int = 20, evalset: str | None = None, prompt: str | None = None) -> list[RunRecord]:
        """Most recent runs first, with counts (`n_results`, `n_errors`, `n_passed`, `pass_rate` over
        the results without errors, `cost_usd`). With `prompt`, only runs that evaluated it, counted
        over its results only."""

        def q(con: duckdb.DuckDBPyConnection) -> list[RunRecord]:
            ids = [
                r[0]
                for r in con.execute(
                    "SELECT id FROM runs WHERE ($evalset IS NULL OR evalset = $evalset) "
                    "AND ($prompt IS NULL OR id IN (SELECT run_id FROM results WHERE prompt = $prompt)) "
                    "ORDER BY started_at DESC, id DESC LIMIT $limit",
                    {"evalset": evalset, "prompt": prompt, "limit": int(limit)},
                ).fetchall()
            ]
            return self._runs_with_counts(con, ids, prompt=prompt)

        return self._db.run(q, read_only=True)

    def latest_run_for(
        self, prompt: str, version_hash: str, evalset: str | None = None, *, candidate_only: bool = False
    ) -> RunRecord | None:
        """The most recent completed run with results for this prompt version (counts over them).

        `candidate_only` skips runs made as the baseline side of a comparison: they carry no
        gate verdict of their own, so they say nothing about whether this version passed.
        """

        def q(con: duckdb.DuckDBPyConnection) -> RunRecord | None:
            row = first_row(
                con,
                "SELECT id FROM runs WHERE status = 'completed' "
                "AND ($evalset IS NULL OR evalset = $evalset) "
                "AND (NOT $candidate_only "
                "OR coalesce(json_extract_string(config, '$.role'), 'candidate') <> 'baseline') "
                "AND id IN (SELECT run_id FROM results WHERE prompt = $prompt AND version_hash = $v) "
                "ORDER BY coalesce(finished_at, started_at) DESC, id DESC LIMIT 1",
                {"evalset": evalset, "prompt": prompt, "v": version_hash, "candidate_only": candidate_only},
            )
            if row is None:
                return None
            return self._runs_with_counts(con, [str(row[0])], prompt=prompt, version_hash=version_hash)[0]

        return self._db.run(q, read_only=True)

    def invocation_runs(self, run_ref: str) -> list[str]:
        """The candidate runs made by the same `llmctl eval` as this run, in the order they started.

        A run from before invocations were recorded (or made by `runs merge`) stands alone.
        """

        def q(con: duckdb.DuckDBPyConnection) -> list[str]:
            run_id = self._resolve(con, run_ref)
            row = first_row(con, "SELECT json_extract_string(config, '$.invocation') FROM runs WHERE id = ?", [run_id])
            invocation = row[0] if row else None
            if not invocation:
                return [run_id]
            return [
                str(r[0])
                for r in con.execute(
                    "SELECT id FROM runs WHERE json_extract_string(config, '$.invocation') = ? "
                    "AND coalesce(json_extract_string(config, '$.role'), 'candidate') <> 'baseline' "
                    "ORDER BY started_at, id",
                    [invocation],
                ).fetchall()
            ] or [run_id]

        return self._db.run(q, read_only=True)

    def runs_for_version(self, prompt: str, version_hash: str) -> list[RunRecord]:
        """Every run (any status, newest first) with results for this prompt version."""

        def q(con: duckdb.DuckDBPyConnection) -> list[RunRecord]:
            ids = [
                r[0]
                for r in con.execute(
                    "SELECT id FROM runs WHERE id IN "
                    "(SELECT run_id FROM results WHERE prompt = $prompt AND version_hash = $v) "
                    "ORDER BY started_at DESC, id DESC",
                    {"prompt": prompt, "v": version_hash},
                ).fetchall()
            ]
            return self._runs_with_counts(con, ids, prompt=prompt, version_hash=version_hash)

        return self._db.run(q, read_only=True)

    # -- results -----------------------------------------------------------------

    def finished_keys(self, run_id: str) -> set[str]:
        """Result keys of `run_id` stored without an error (what `--resume` can skip)."""
        rows = self._db.run(
            lambda con: con.execute(
                "SELECT result_key FROM results WHERE run_id = ? AND error IS NULL", [run_id]
            ).fetchall(),
            read_only=True,
        )
        return {r[0] for r in rows}

    def outcomes(self, run_id: str) -> list[CaseOutcome]:
        """Every result of a run joined with its scores, ordered by prompt, model, case, repeat.

        Scores are keyed by evaluator name; a second evaluator of the same name in
        one result is keyed `name#2` (in configuration order). An evaluator that
        errored never passes, and its reason is the error.
        """
        with _gc_paused():
            return self._db.run(lambda con: self._outcomes_in(con, run_id), read_only=True)

    def _outcomes_in(self, con: duckdb.DuckDBPyConnection, run_id: str) -> list[CaseOutcome]:
        """`outcomes` on an open connection (usable inside a transaction).

        Rows are fetched and turned into outcomes `_FETCH_ROWS` at a time, so the raw rows of a
        large run never sit in memory beside its outcomes, and equal short strings (prompt,
        model, version, evaluator names, reasons, outputs) are one object for the whole run."""
        rid = self._resolve(con, run_id)
        same = _Interner()
        # result key -> (scores, passed, reasons), each keyed by evaluator name
        by_key: dict[str, tuple[dict[str, float], dict[str, bool], dict[str, str]]] = {}
        critical: dict[str, list[str]] = {}  # result key -> its `severity: critical` evaluators
        # Only the order within a result matters (its evaluators in configuration order).
        cursor = con.execute(
            "SELECT result_key, evaluator, COALESCE(score, 0.0::DOUBLE), "
            "COALESCE(passed, false) AND error IS NULL, COALESCE(error, reason, ''), "
            "COALESCE(json_extract_string(config, '$.severity') = 'critical', false) "
            "FROM scores WHERE run_id = ? AND NOT (passed IS NULL AND error IS NULL) ORDER BY idx",
            [rid],
        )
        while rows := cursor.fetchmany(_FETCH_ROWS):
            _add_scores(rows, by_key, critical, same)
        cursor = con.execute(
            "SELECT r.result_key, prompt, r.model, case_id, repeat_index, passed, r.error, r.cost_usd, "
            "r.latency_ms, r.cached, output, version_hash, tool_calls, r.prompt_tokens, r.completion_tokens, "
            "r.cached_tokens, r.reasoning_tokens, r.cache_write_tokens, j.n, j.p, j.c, j.spent, j.saved, "
            "r.result_key IN (SELECT custom_id FROM batch_requests WHERE run_id = $rid AND state = 'done') "
            "FROM results r "
            "LEFT JOIN (SELECT result_key, count(*) FILTER (fresh) AS n, sum(prompt_tokens) FILTER (fresh) AS p, "
            "sum(completion_tokens) FILTER (fresh) AS c, sum(cost_usd) FILTER (fresh) AS spent, "
            "sum(cost_usd) FILTER (NOT fresh) AS saved "
            "FROM (SELECT *, NOT coalesce(cached, false) AS fresh FROM judge_calls WHERE run_id = $rid) "
            "GROUP BY result_key) j ON j.result_key = r.result_key WHERE r.run_id = $rid "
            "ORDER BY prompt, r.model, case_id, repeat_index",
            {"rid": rid},
        )
        out: list[CaseOutcome] = []
        while rows := cursor.fetchmany(_FETCH_ROWS):
            _add_outcomes(rows, by_key, critical, same, out)
        return out

    def results_table(
        self,
        run_id: str,
        *,
        with_scores: bool = True,
        case_id: str | None = None,
        case_ids: Sequence[str] | None = None,
        result_keys: Sequence[str] | None = None,
    ) -> pa.Table:
        """A run's results as an Arrow table (with a nested `scores` list column by default);
        only those of one case, of some cases or with some result keys when given."""
        return self._db.run(
            lambda con: con.sql(
                self._results_query(
                    self._resolve(con, run_id), with_scores, case_id=case_id, case_ids=case_ids, result_keys=result_keys
                )
            ).to_arrow_table(),
            read_only=True,
        )

    def export(self, run_id: str, fmt: str, dest: Path) -> Path:
        """Write a run's results (with their scores) to `dest` as json, jsonl, csv, parquet or otlp.

        json is one document `{"run": {...}, "results": [...]}`; jsonl and parquet
        nest each result's scores as a list; csv carries them as a JSON text column.
        The file appears whole or not at all.
        """
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
        if fmt == "otlp":
            from llmctl.traces._otlp_export import export_run

            return export_run(self, run_id, Path(dest))
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")

        def q(con: duckdb.DuckDBPyConnection) -> RunRecord:
            rid = self._resolve(con, run_id)
            query = self._results_query(rid, with_scores=True, scores_as_json=fmt == "csv")
            options = {
                "jsonl": "FORMAT json",
                "json": "FORMAT json",
                "csv": "FORMAT csv, HEADER true",
                "parquet": "FORMAT parquet",
            }[fmt]
            if fmt != "parquet":  # text formats: UTC ISO-8601 with Z, as every screen shows times
                iso = "strftime(created_at, '%Y-%m-%dT%H:%M:%SZ')"
                query = f"SELECT * REPLACE ({iso} AS created_at) FROM ({query})"  # noqa: S608
            if fmt == "csv":  # no cell a spreadsheet would run as a formula (llmctl.outputs)
                from llmctl.outputs import csv_safe_sql

                described = con.execute(f"DESCRIBE ({query})").fetchall()
                texts = [str(c[0]) for c in described if str(c[1]) in ("VARCHAR", "JSON")]
                if texts:
                    safe = ", ".join(f'{csv_safe_sql(c)} AS "{c}"' for c in texts)
                    query = f"SELECT * REPLACE ({safe}) FROM ({query})"  # noqa: S608
            con.execute(f"COPY ({query}) TO {_sql_str(str(tmp))} ({options})")
            return self._runs_with_counts(con, [rid])[0]

        try:
            run = self._db.run(q, read_only=True)
            if fmt == "json":
                self._wrap_json(tmp, run.to_dict())
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    # -- cache and prompt versions -------------------------------------------------------

    def cache_get_many(self, keys: Iterable[str]) -> dict[str, dict[str, object]]:
        """Cached responses for these keys, in one query; missing keys are absent."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        tbl = pa.table({"key": arrow_array(wanted, pa.string())})
        names = [c[0] for c in CACHE_COLUMNS]

        def q(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
            con.register("_llmctl_keys", tbl)
            return con.execute(
                f"SELECT {', '.join('c.' + n for n in names)} FROM cache c "  # noqa: S608
                "WHERE c.key IN (SELECT key FROM _llmctl_keys)"
            ).fetchall()

        return {row[0]: dict(zip(names, row, strict=True)) for row in self._db.run(q, read_only=True)}

    def cache_put_many(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Store cache entries (an existing key keeps its first entry)."""
        recs = [cache_record(r) for r in rows]
        if not recs:
            return
        tbl = to_arrow(recs, CACHE_COLUMNS)

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            con.register("_llmctl_cache", tbl)
            con.execute(insert_sql("cache", CACHE_COLUMNS, "_llmctl_cache") + " ON CONFLICT DO NOTHING")

        self._db.run(tx)

    def put_prompt_versions(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Record prompt versions (`version_hash`, `prompt`, `path`, `content`, `git_commit`);
        a hash already stored keeps its first record (and `first_seen`)."""
        recs = []
        for row in rows:
            check_fields(row, _PROMPT_VERSION_FIELDS, "prompt version")
            if not row.get("version_hash") or not row.get("prompt"):
                raise ValueError("a prompt version row needs `version_hash` and `prompt`")
            rec = dict(row)
            if rec.get("first_seen") is None:
                rec["first_seen"] = utcnow()
            recs.append(rec)
        if not recs:
            return
        tbl = to_arrow(recs, PROMPT_VERSION_COLUMNS)

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            con.register("_llmctl_pv", tbl)
            con.execute(insert_sql("prompt_versions", PROMPT_VERSION_COLUMNS, "_llmctl_pv") + " ON CONFLICT DO NOTHING")

        self._db.run(tx)

    def get_prompt_version(self, version_hash: str) -> dict[str, object] | None:
        """A stored prompt version (content parsed from JSON), or None."""
        names = [c[0] for c in PROMPT_VERSION_COLUMNS]
        row = self._db.run(
            lambda con: first_row(
                con,
                f"SELECT {', '.join(names)} FROM prompt_versions WHERE version_hash = ?",  # noqa: S608
                [version_hash],
            ),
            read_only=True,
        )
        if row is None:
            return None
        rec = dict(zip(names, row, strict=True))
        rec["content"] = _loads(rec["content"])
        return rec

    # -- merge -------------------------------------------------------------------------

    def merge(
        self,
        run_id: str | None,
        sources: list[Path],
        *,
        source_run_ids: list[str] | None = None,
        baseline_run_id: str | None = None,
        baseline_source_run_ids: list[str] | None = None,
        finish: MergeFinish | None = None,
    ) -> str:
        """Combine shard runs from other store files into one run here; returns its id.

        From each source store the most recent run is taken (or the run named in
        `source_run_ids`, one per source); all must share one evalset and git
        commit. `baseline_run_id` links the merged run to its (merged) baseline.
        With `run_id` None a new run is created (status: the worst of the
        shards', `config.merged_from` lists them); an existing
        `run_id` gets the shards' results added. Duplicate result keys keep the
        first copy, so merging twice changes nothing.

        With `baseline_source_run_ids` (one per source) the shards' baseline runs are
        merged into a new run too, and linked. With `finish(candidate, baseline)` ->
        (summary, baseline summary) the merged runs get their summaries (the verdict).
        Everything happens in one transaction: a merge that is killed leaves nothing.
        """
        paths = [Path(s).absolute() for s in sources]
        picked = self._merge_sources(paths, source_run_ids)
        base_picked = self._merge_sources(paths, baseline_source_run_ids) if baseline_source_run_ids else None
        target = run_id or new_run_id()
        base_target = new_run_id() if base_picked is not None else None
        if base_target == target:
            base_target = target + "-b"

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            for i, src_path in enumerate(paths):
                con.execute(f"ATTACH {_sql_str(str(src_path))} AS llmctl_src{i} (READ_ONLY)")

            def write() -> None:
                linked = baseline_run_id
                if base_picked is not None and base_target is not None:
                    self._insert_merged(con, base_picked, base_target, None)
                    linked = base_target
                self._insert_merged(con, picked, target, linked)
                if finish is not None:
                    candidate = self._outcomes_in(con, target)
                    baseline_id = linked
                    baseline = self._outcomes_in(con, baseline_id) if baseline_id else None
                    summary, base_summary = finish(candidate, baseline)
                    con.execute("UPDATE runs SET summary = ? WHERE id = ?", [to_json(summary), target])
                    if base_target is not None and base_summary is not None:
                        con.execute("UPDATE runs SET summary = ? WHERE id = ?", [to_json(base_summary), base_target])

            try:
                transaction(con, write)
            finally:  # a DuckLake's connection outlives this call: leave nothing attached
                for i in range(len(paths)):
                    con.execute(f"DETACH DATABASE IF EXISTS llmctl_src{i}")

        self._db.run(tx)
        return target

    def merge_runs(
        self, run_id: str | None, source_run_ids: list[str], *, finish: MergeFinish | None = None
    ) -> tuple[str, str | None]:
        """Merge shard runs already in this store (a shared store its shards wrote); see
        `llmctl.store._shards.merge_runs`. Returns (merged run id, merged baseline run id or None)."""
        return merge_runs(self, run_id, source_run_ids, finish=finish)

    def _merge_sources(self, paths: list[Path], source_run_ids: list[str] | None) -> list[tuple[int, RunRecord]]:
        """(source index, run) for each shard store, checked to belong to one evalset and commit."""
        if not paths:
            raise InputError("nothing to merge: give one or more shard store files")
        picked: list[tuple[int, RunRecord]] = []
        for i, src in enumerate(paths):
            if not src.exists():
                raise InputError("shard store does not exist", file=src)
            # the same file under another name (a hard or symbolic link) is the same store
            if src == self.path or (self.path.exists() and os.path.samefile(src, self.path)):
                raise InputError("cannot merge a store into itself", file=src)
            source = Store(src, lock_timeout=self.lock_timeout, on_wait=self.on_wait)
            if source_run_ids is not None:
                picked.append((i, source.get_run(source_run_ids[i])))
                continue
            runs = source.list_runs(limit=1)
            if not runs:
                raise InputError("shard store has no runs to merge", file=src)
            picked.append((i, runs[0]))
        check_mergeable([r for _, r in picked], "from " + ", ".join(str(p) for p in paths))
        return picked

    def _insert_merged(
        self,
        con: duckdb.DuckDBPyConnection,
        picked: list[tuple[int, RunRecord]],
        target: str,
        baseline_run_id: str | None,
        in_store: bool = False,
    ) -> None:
        """Inside an open transaction, with source i attached as `llmctl_src{i}` (`in_store`:
        the source runs are in this store's own tables)."""
        first = picked[0][1]
        statuses = {r.status for _, r in picked}
        status = next((s for s in ("failed", "interrupted", "running", "submitted") if s in statuses), "completed")
        if status in ("running", "submitted"):  # a submitted run's batches are not merged: collect it first
            status = "interrupted"
        config: dict[str, object] = dict(first.config)
        config["merged_from"] = [
            {"store": self.where if in_store else str(self._merge_path(con, i)), "run_id": r.id, "shard": r.shard}
            for i, r in picked
        ]
        started = min(r.started_at for _, r in picked)
        finished = [r.finished_at for _, r in picked if r.finished_at is not None]
        results_cols = ", ".join(c[0] for c in RESULT_COLUMNS[2:])
        score_cols = ", ".join(c[0] for c in SCORE_COLUMNS[2:])
        judge_cols = ", ".join(c[0] for c in JUDGE_CALL_COLUMNS[2:])
        pv_cols = ", ".join(c[0] for c in PROMPT_VERSION_COLUMNS)
        if not con.execute("SELECT 1 FROM runs WHERE id = ?", [target]).fetchall():
            con.execute(
                "INSERT INTO runs (id, started_at, finished_at, status, git_commit, git_branch, "
                "evalset, config, baseline_run_id, llmctl_version, shard) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [
                    target,
                    started,
                    max(finished) if finished else None,
                    status,
                    first.git_commit,
                    first.git_branch,
                    first.evalset,
                    to_json(config),
                    baseline_run_id,
                    llmctl.__version__,
                ],
            )
        for i, run in picked:
            src = "" if in_store else f"llmctl_src{i}."  # in_store: this store's own tables
            params = {"target": target, "src": run.id}
            con.execute(
                f"INSERT INTO scores (run_id, result_key, {score_cols}) "  # noqa: S608
                f"SELECT $target, result_key, {score_cols} FROM {src}scores s "
                "WHERE s.run_id = $src AND NOT EXISTS (SELECT 1 FROM results r "
                "WHERE r.run_id = $target AND r.result_key = s.result_key)",
                params,
            )
            con.execute(
                f"INSERT INTO judge_calls (run_id, result_key, {judge_cols}) "  # noqa: S608
                f"SELECT $target, result_key, {judge_cols} FROM {src}judge_calls s "
                "WHERE s.run_id = $src AND NOT EXISTS (SELECT 1 FROM results r "
                "WHERE r.run_id = $target AND r.result_key = s.result_key)",
                params,
            )
            con.execute(
                f"INSERT INTO results (run_id, result_key, {results_cols}) "  # noqa: S608
                f"SELECT $target, result_key, {results_cols} FROM {src}results "
                "WHERE run_id = $src ON CONFLICT DO NOTHING",
                params,
            )
            if not in_store:  # a run's prompt versions are in its store already
                con.execute(
                    f"INSERT INTO prompt_versions ({pv_cols}) SELECT {pv_cols} "  # noqa: S608
                    f"FROM {src}prompt_versions ON CONFLICT DO NOTHING"
                )

    @staticmethod
    def _merge_path(con: duckdb.DuckDBPyConnection, i: int) -> str:
        row = first_row(con, "SELECT path FROM duckdb_databases() WHERE database_name = ?", [f"llmctl_src{i}"])
        return str(row[0]) if row else ""

    # -- copy ----------------------------------------------------------------------------

    def copy_from(
        self, source: Path | str | LakeSpec, progress: Callable[[str, int, int], None] | None = None
    ) -> dict[str, int]:
        """Copy every run, result, score, cache entry... of `source` (a store file or a DuckLake)
        that this store lacks, in one transaction; returns the rows added per table. Idempotent:
        see `llmctl.store._copy`. `progress(table, source rows, added or -1 before)`."""
        from llmctl.store._copy import copy_tables

        where = source if isinstance(source, LakeSpec) else Path(source).absolute()
        if isinstance(where, Path):
            if not where.is_file():
                raise InputError("no such store file", file=where)
            if isinstance(self.location, Path) and self.path.exists() and os.path.samefile(where, self.path):
                raise InputError("cannot copy a store into itself", file=where)
        elif where == self.location:
            raise InputError(f"cannot copy a store into itself: {where.label}")
        src = Store(where, lock_timeout=self.lock_timeout, on_wait=self.on_wait)
        src.schema_version()  # refuses what is not an llmctl store (or a newer one); migrates an older one
        if isinstance(src._db, LakeConnector) and src.location != self.location:
            src._db.close()
        self._db.run(lambda con: None)  # create and migrate this store first
        return self._db.run(lambda con: copy_tables(con, where, dest_is_lake=self.is_lake, progress=progress))

    # -- labels and judge calibrations ---------------------------------------------

    def put_labels(self, evalset: str, labels: Iterable[Mapping[str, object]], *, replace: bool = False) -> None:
        """Mirror labels of `evalset` (see `llmctl.labels`); `replace` first drops the evalset's old rows."""
        rows = [
            [
                evalset,
                str(lb["case_id"]),
                str(lb["model"]),
                str(lb["output_sha256"]),
                str(lb["label"]),
                lb.get("score"),
                lb.get("note"),
                lb.get("by"),
                lb.get("at"),
            ]
            for lb in labels
        ]

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            def write() -> None:
                if replace:
                    con.execute("DELETE FROM labels WHERE evalset = ?", [evalset])
                for row in rows:
                    con.execute(
                        "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )

            transaction(con, write)

        self._db.run(tx)

    def labels(self, evalset: str | None = None) -> list[dict[str, object]]:
        """Mirrored labels (of one evalset, or all)."""
        rows = self._db.run(
            lambda con: con.execute(
                "SELECT evalset, case_id, model, output_sha256, label, score, note, labelled_by, labelled_at "
                "FROM labels WHERE ($e IS NULL OR evalset = $e) ORDER BY evalset, case_id, model",
                {"e": evalset},
            ).fetchall(),
            read_only=True,
        )
        names = ("evalset", "case_id", "model", "output_sha256", "label", "score", "note", "by", "at")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def put_calibration(self, row: Mapping[str, object]) -> None:
        """Record one judge calibration (see `llmctl.calibrate`)."""
        values = [
            row["judge_hash"],
            row["evaluator"],
            to_json(row.get("config")),
            to_json(row.get("evalsets")),
            row["n"],
            row["tp"],
            row["fp"],
            row["tn"],
            row["fn"],
            row.get("kappa"),
            *(ci if isinstance(ci := row.get("kappa_ci"), (list, tuple)) and len(ci) == 2 else (None, None)),
            utcnow(),
        ]

        def tx(con: duckdb.DuckDBPyConnection) -> None:
            transaction(
                con,
                lambda: con.execute(
                    "INSERT INTO judge_calibrations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values
                ),
            )

        self._db.run(tx)

    def latest_calibration(self, judge_hash: str) -> dict[str, object] | None:
        """The most recent calibration recorded for a judge content hash, or None."""
        row = self._db.run(
            lambda con: first_row(
                con,
                "SELECT judge_hash, evaluator, n, tp, fp, tn, fn, kappa, kappa_low, kappa_high, calibrated_at "
                "FROM judge_calibrations WHERE judge_hash = ? ORDER BY calibrated_at DESC LIMIT 1",
                [judge_hash],
            ),
            read_only=True,
        )
        if row is None:
            return None
        names = ("judge_hash", "evaluator", "n", "tp", "fp", "tn", "fn", "kappa", "kappa_low", "kappa_high", "at")
        return dict(zip(names, row, strict=True))

    def run_evaluators(self, run_id: str) -> list[tuple[str, dict[str, object]]]:
        """The distinct (evaluator name, config) pairs scored in a run."""
        rows = self._db.run(
            lambda con: con.execute(
                "SELECT DISTINCT evaluator, config::VARCHAR FROM scores WHERE run_id = ? ORDER BY 1, 2", [run_id]
            ).fetchall(),
            read_only=True,
        )
        return [(str(r[0]), _loads(r[1]) or {}) for r in rows]

    def judge_scores(self, evalsets: Sequence[str] | None = None) -> list[dict[str, object]]:
        """Every stored score with its result's case, model, output and run evalset (for calibration)."""
        rows = self._db.run(
            lambda con: con.execute(
                "SELECT runs.evalset, r.run_id, r.case_id, r.model, r.output, s.evaluator, s.config, s.passed, "
                "s.score, s.error, r.tool_calls, r.turns FROM scores s "
                "JOIN results r ON r.run_id = s.run_id AND r.result_key = s.result_key "
                "JOIN runs ON runs.id = r.run_id WHERE (r.output IS NOT NULL OR r.tool_calls IS NOT NULL) "
                "AND ($e IS NULL OR list_contains($e, runs.evalset)) ORDER BY runs.started_at, r.case_id",
                {"e": list(evalsets) if evalsets else None},
            ).fetchall(),
            read_only=True,
        )
        names = ("evalset", "run_id", "case_id", "model", "output", "evaluator", "config", "passed", "score", "error",
                 "tool_calls", "turns")  # fmt: skip
        out = []
        for r in rows:
            d = dict(zip(names, r, strict=True))
            d["config"] = _loads(d["config"]) or {}
            out.append(d)
        return out

    # -- internals ---------------------------------------------------------------------

    def _run_has_errors(self, run_id: str) -> bool:
        """For the writer: check the run exists; True when it already has error results."""

        def q(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
            return first_row(
                con,
                "SELECT (SELECT count(*) FROM runs WHERE id = $id), "
                "EXISTS (SELECT 1 FROM results WHERE run_id = $id AND error IS NOT NULL)",
                {"id": run_id},
            )

        row = self._db.run(q, read_only=True)
        if not row or not row[0]:
            raise InputError(f"no run {run_id} in {self.where}; create it with create_run() first")
        return bool(row[1])

    def _resolve(self, con: duckdb.DuckDBPyConnection, ref: str) -> str:
        ref = ref.strip()
        if ref in ("latest", "last"):
            row = first_row(con, "SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1")
            if row is None:
                raise InputError(f"no runs in {self.where} yet")
            return str(row[0])
        exact = first_row(con, "SELECT id FROM runs WHERE id = ?", [ref])
        if exact:
            return str(exact[0])
        matches = [
            r[0]
            for r in con.execute(
                "SELECT id FROM runs WHERE starts_with(id, ?) ORDER BY id DESC LIMIT 11", [ref]
            ).fetchall()
        ]
        if len(matches) == 1 and ref:
            return str(matches[0])
        if len(matches) > 1 and ref:
            more = ", ..." if len(matches) > 10 else ""
            raise InputError(
                f"run id {ref!r} is ambiguous; it matches {', '.join(matches[:10])}{more}",
                hint="give more characters of the id",
            )
        recent = [r[0] for r in con.execute("SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 5").fetchall()]
        hint = f"recent runs: {', '.join(recent)}" if recent else f"the store {self.where} has no runs yet"
        raise InputError(f"no run matches {ref!r}", hint=hint)

    def _runs_with_counts(
        self,
        con: duckdb.DuckDBPyConnection,
        ids: list[str],
        *,
        prompt: str | None = None,
        version_hash: str | None = None,
    ) -> list[RunRecord]:
        if not ids:
            return []
        rows = con.execute(
            f"""
            WITH agg AS (
                SELECT run_id, count(*) AS n_results, count(error) AS n_errors,
                       count_if(passed AND error IS NULL) AS n_passed,
                       count_if(passed IS NULL AND error IS NULL) AS n_unscored, sum(cost_usd) AS cost_usd,
                       list(DISTINCT prompt ORDER BY prompt) AS prompts,
                       list(DISTINCT model ORDER BY model) AS models
                FROM results
                WHERE run_id IN (SELECT unnest($ids))
                  AND ($prompt IS NULL OR prompt = $prompt)
                  AND ($v IS NULL OR version_hash = $v)
                GROUP BY run_id
            )
            SELECT {_RUN_COLUMNS}, coalesce(n_results, 0), coalesce(n_errors, 0),
                   coalesce(n_passed, 0), coalesce(n_unscored, 0), coalesce(cost_usd, 0),
                   coalesce(prompts, []), coalesce(models, [])
            FROM runs LEFT JOIN agg ON agg.run_id = runs.id
            WHERE id IN (SELECT unnest($ids))
            """,  # noqa: S608
            {"ids": ids, "prompt": prompt, "v": version_hash},
        ).fetchall()
        by_id: dict[str, RunRecord] = {}
        for row in rows:
            run = _run_record(row)
            by_id[run.id] = run
        return [by_id[i] for i in ids if i in by_id]

    @staticmethod
    def _results_query(
        run_id: str,
        with_scores: bool,
        scores_as_json: bool = False,
        case_id: str | None = None,
        case_ids: Sequence[str] | None = None,
        result_keys: Sequence[str] | None = None,
    ) -> str:
        rid = _sql_str(run_id)
        where = f"r.run_id = {rid}" + (f" AND r.case_id = {_sql_str(case_id)}" if case_id is not None else "")
        for column, values in (("case_id", case_ids), ("result_key", result_keys)):
            if values is not None:
                where += f" AND r.{column} IN ({', '.join(_sql_str(v) for v in values) or 'NULL'})"
        if not with_scores:
            return f"SELECT {_RESULT_NAMES} FROM results r WHERE {where} ORDER BY r.prompt, r.model, r.case_id, r.repeat_index"  # noqa: S608, E501
        picked = ""
        if case_id is not None or case_ids is not None or result_keys is not None:  # aggregate only their scores
            picked = f" AND s.result_key IN (SELECT r.result_key FROM results r WHERE {where})"  # noqa: S608
        scores = (
            "list(struct_pack(evaluator := s.evaluator, score := s.score, passed := s.passed, "
            "reason := s.reason, error := s.error, config := s.config) ORDER BY s.idx)"
        )
        if scores_as_json:
            scores = f"to_json({scores})::VARCHAR"
        return (
            f"SELECT {_RESULT_NAMES}, s.scores FROM results r LEFT JOIN ("  # noqa: S608
            f"SELECT s.result_key, {scores} AS scores FROM scores s WHERE s.run_id = {rid}{picked} "
            f"GROUP BY s.result_key) s ON s.result_key = r.result_key "
            f"WHERE {where} ORDER BY r.prompt, r.model, r.case_id, r.repeat_index"
        )

    @staticmethod
    def _wrap_json(jsonl: Path, run: Mapping[str, object]) -> None:
        """Turn the jsonl that COPY wrote into `{"run": ..., "results": [...]}`, streaming."""
        out = jsonl.with_name(jsonl.name + ".json")
        try:
            with jsonl.open("r", encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
                dst.write('{"run": ')
                dst.write(json.dumps(run, default=fmt_json_default, ensure_ascii=False))
                dst.write(', "results": [')
                first = True
                for line in src:
                    line = line.strip()
                    if not line:
                        continue
                    dst.write("\n" if first else ",\n")
                    dst.write(line)
                    first = False
                dst.write("\n]}\n")
            os.replace(out, jsonl)
        finally:
            out.unlink(missing_ok=True)
