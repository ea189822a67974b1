"""The viewer's reads (llmctl.viewer._data shapes them into pages and JSON): paged result keys,
the run page's case matrix, two runs paired case by case, a prompt's versions and a case's judge
calls. Filtering, pairing, ordering and counting happen here, in SQL, so a page of a 100k-case
run reads only its own rows in full (benchmarks/viewer_bench.py).

Each function takes a `Store` and returns plain Python values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from llmctl.store._store import Store

_RESULT_ORDER = "ORDER BY prompt, model, case_id, repeat_index"
_CHANGE_ORDER = "CASE change WHEN 'pass -> fail' THEN 0 WHEN 'fail -> pass' THEN 1 ELSE 2 END"

PairRow = tuple[Any, ...]  # prompt, model, case id, repeat, change, result key in a (or None), in b (or None)


def result_keys_page(store: Store, run_id: str, limit: int, offset: int) -> tuple[list[str], int]:
    """One page of a run's result keys (in prompt, model, case, repeat order) and how many it has."""
    keys = store.query(
        f"SELECT result_key, count(*) OVER () FROM results WHERE run_id = ? {_RESULT_ORDER} LIMIT ? OFFSET ?",  # noqa: S608
        [run_id, limit, offset],
    )
    if keys:
        return [str(k) for k, _ in keys], _count(keys[0][1])
    rows = store.query("SELECT count(*) FROM results WHERE run_id = ?", [run_id])
    return [], _count(rows[0][0]) if rows else 0


def result_keys_after(
    store: Store, run_id: str, after: tuple[object, ...] | None, n: int
) -> tuple[list[str], tuple[object, ...] | None]:
    """The next `n` result keys of a run after the position `after` (None: from the start), and the
    position to continue from (None when nothing was left): keyset paging, for streaming all."""
    where = "" if after is None else "AND (prompt, model, case_id, repeat_index) > (?, ?, ?, ?) "
    rows = store.query(
        "SELECT result_key, prompt, model, case_id, repeat_index FROM results WHERE run_id = ? "  # noqa: S608
        f"{where}{_RESULT_ORDER} LIMIT ?",
        [run_id, *(after or ()), n],
    )
    if not rows:
        return [], None
    return [str(r[0]) for r in rows], tuple(rows[-1][1:])


_CASES_SQL = """
WITH r AS (
  SELECT case_id, prompt, version_hash, model, coalesce(passed, false) AND error IS NULL AS ok,
         error IS NOT NULL AS err, input, output
  FROM results WHERE run_id = $run),
base AS (
  SELECT case_id, model, bool_and(coalesce(passed, false) AND error IS NULL) AS ok
  FROM results WHERE run_id = $base GROUP BY case_id, model),
flaky AS (
  SELECT DISTINCT case_id FROM r GROUP BY case_id, prompt, version_hash, model HAVING count(DISTINCT ok) > 1),
flip AS (
  SELECT DISTINCT r.case_id FROM r JOIN base ON base.case_id = r.case_id AND base.model = r.model
  WHERE base.ok AND NOT r.ok),
c AS (
  SELECT case_id, bool_or(NOT ok) AS failed, bool_or(err) AS errors,
         $q = '' OR bool_or(contains(lower(case_id || ' ' || coalesce(CAST(input AS VARCHAR), '') || ' '
                                           || coalesce(output, '')), $q)) AS hit
  FROM r GROUP BY case_id)
SELECT c.case_id, flip.case_id IS NOT NULL AS flipped, flaky.case_id IS NOT NULL AS flaky, count(*) OVER () AS total
FROM c LEFT JOIN flip USING (case_id) LEFT JOIN flaky USING (case_id)
WHERE hit AND CASE $flt WHEN 'failed' THEN failed WHEN 'errors' THEN errors
                        WHEN 'flipped' THEN flip.case_id IS NOT NULL WHEN 'flaky' THEN flaky.case_id IS NOT NULL
                        ELSE true END
ORDER BY c.case_id LIMIT $limit OFFSET $offset
"""

_COLUMNS_SQL = (
    "SELECT prompt, version_hash, model, min(case_id) FROM results WHERE run_id = ? "
    "GROUP BY ALL ORDER BY prompt, model, 4, version_hash"
)


def matrix_page(
    store: Store, run_id: str, base_id: str, q: str, flt: str, limit: int, offset: int
) -> tuple[list[tuple[str, str | None, str]], list[tuple[str, bool, bool]], int | None]:
    """The run page's matrix: its columns (prompt, version hash, model), one page of the cases that
    match search `q` (lower case; '' for all) and filter `flt` (all, failed, errors, flipped against
    run `base_id`, flaky) as (case id, flipped, flaky), and how many cases match (None when the
    page is past the end: ask `matrix_count`)."""
    params = {"run": run_id, "base": base_id, "q": q, "flt": flt, "limit": limit, "offset": offset}
    cols, rows = store.queries((_COLUMNS_SQL, [run_id]), (_CASES_SQL, params))
    total = _count(rows[0][3]) if rows else None
    return (
        [(str(p), None if vh is None else str(vh), str(m)) for p, vh, m, _ in cols],
        [(str(c), bool(fl), bool(fk)) for c, fl, fk, _ in rows],
        total,
    )


def matrix_count(store: Store, run_id: str, base_id: str, q: str, flt: str) -> int:
    """How many cases of the run page's matrix match `q` and `flt` (see `matrix_page`)."""
    head = store.query(_CASES_SQL, {"run": run_id, "base": base_id, "q": q, "flt": flt, "limit": 1, "offset": 0})
    return _count(head[0][3]) if head else 0


def _pairs_sql(with_outputs: bool = False) -> str:
    """The pairs of runs $a and $b as CTE `p` (with `differ` and `answered` when `with_outputs`:
    reading the outputs costs most of the time, so only the blind review asks for them)."""
    out = ", output" if with_outputs else ""
    extra = (
        ", a.output IS DISTINCT FROM b.output AS differ, a.output IS NOT NULL AND b.output IS NOT NULL AS answered"
        if with_outputs
        else ""
    )
    side = "SELECT result_key, prompt, model, case_id, repeat_index, coalesce(passed, false) AND error IS NULL AS ok"
    return f"""
WITH a AS ({side}{out} FROM results WHERE run_id = $a),
b AS ({side}{out} FROM results WHERE run_id = $b),
p AS (
  SELECT coalesce(a.prompt, b.prompt) AS prompt, coalesce(a.model, b.model) AS model,
         coalesce(a.case_id, b.case_id) AS case_id, coalesce(a.repeat_index, b.repeat_index) AS repeat_index,
         a.result_key AS ka, b.result_key AS kb,
         CASE WHEN a.result_key IS NULL THEN 'only in b' WHEN b.result_key IS NULL THEN 'only in a'
              WHEN a.ok AND NOT b.ok THEN 'pass -> fail' WHEN NOT a.ok AND b.ok THEN 'fail -> pass'
              ELSE 'same' END AS change{extra}
  FROM a FULL OUTER JOIN b ON a.prompt = b.prompt AND a.model = b.model AND a.case_id = b.case_id
                           AND a.repeat_index = b.repeat_index)
"""  # noqa: S608 (constant text)


_PAIRS_SQL = _pairs_sql()


def _tuples(values: object) -> list[tuple[Any, ...]]:
    """A list column of structs as tuples (DuckDB hands a struct back as a dict)."""
    return [tuple(x.values()) if isinstance(x, dict) else tuple(x) for x in cast("list[Any]", values or [])]


def _count(value: object) -> int:
    """A count DuckDB returned (an int)."""
    return int(cast(int, value))


def pair_counts(store: Store, a: str, b: str) -> dict[str, int]:
    """How many pairs of runs `a` and `b` (paired by prompt, model, case, repeat) have each change:
    same, pass -> fail, fail -> pass, only in a, only in b."""
    rows = store.query(_PAIRS_SQL + "SELECT change, count(*) FROM p GROUP BY change", {"a": a, "b": b})  # noqa: S608
    return {str(change): _count(n) for change, n in rows}


def pairs_page(
    store: Store, a: str, b: str, *, changed_only: bool, limit: int | None, offset: int
) -> tuple[dict[str, int], list[PairRow]]:
    """`pair_counts` and one page of the pairs, flips first (then by case, model, prompt, repeat),
    only those that changed with `changed_only`; `limit` None: all. One statement: the pairing (a
    join of both runs) is done once and both counted and paged."""
    where = "WHERE change <> 'same'" if changed_only else ""
    paged = (
        f", pg AS (SELECT prompt, model, case_id, repeat_index, change, ka, kb, {_CHANGE_ORDER} AS o "  # noqa: S608
        f"FROM p {where} ORDER BY o, case_id, model, prompt, repeat_index LIMIT $limit OFFSET $offset) "
        "SELECT (SELECT list((change, n)) FROM (SELECT change, count(*) AS n FROM p GROUP BY change)), "
        "(SELECT list((prompt, model, case_id, repeat_index, change, ka, kb) "
        "ORDER BY o, case_id, model, prompt, repeat_index) FROM pg)"
    )
    ((counted, picked),) = store.query(
        _PAIRS_SQL.replace("p AS (", "p AS MATERIALIZED (", 1) + paged,
        {"a": a, "b": b, "limit": limit if limit is not None else 2**62, "offset": offset},
    )
    counts = {str(change): int(n) for change, n in _tuples(counted)}
    return counts, _tuples(picked)


def differing_pair_keys(store: Store, a: str, b: str, seed: str, n: int) -> list[tuple[str, str]]:
    """Up to `n` (key in a, key in b) pairs whose outputs differ, both answered: a sample ordered by
    a hash seeded with `seed` (for the blind pairwise review)."""
    sample = "SELECT ka, kb FROM p WHERE answered AND differ ORDER BY hash(ka || kb || $seed) LIMIT $n"
    rows = store.query(_pairs_sql(with_outputs=True) + sample, {"a": a, "b": b, "seed": seed, "n": n})
    return [(str(ka), str(kb)) for ka, kb in rows]


PROMPT_VERSION_FIELDS = (
    "version_hash", "first_seen", "git_commit", "n_results", "n_passed", "n_errors", "n_unscored",
    "cost_usd_mean", "latency_p95_ms", "runs",
)  # fmt: skip


def prompt_version_stats(store: Store, name: str) -> list[dict[str, object]]:
    """Each version of prompt `name` with results, first seen first: results, passed, errors,
    unscored (no verdict: an unlabelled `human` alone), mean cost and p95 latency of the answered
    ones, and in how many runs (PROMPT_VERSION_FIELDS)."""
    rows = store.query(
        "SELECT r.version_hash, min(coalesce(pv.first_seen, r.created_at)) AS first_seen, any_value(pv.git_commit), "
        "count(*), count_if(r.passed AND r.error IS NULL), count(r.error), "
        "count_if(r.passed IS NULL AND r.error IS NULL), "
        "avg(r.cost_usd) FILTER (r.error IS NULL), quantile_cont(r.latency_ms, 0.95) FILTER (r.error IS NULL), "
        "count(DISTINCT r.run_id) "
        "FROM results r LEFT JOIN prompt_versions pv ON pv.version_hash = r.version_hash "
        "WHERE r.prompt = ? GROUP BY r.version_hash ORDER BY 2, 1",
        [name],
    )
    return [dict(zip(PROMPT_VERSION_FIELDS, row, strict=True)) for row in rows]


JUDGE_CALL_FIELDS = (
    "result_key", "evaluator", "call_index", "model", "prompt_tokens", "completion_tokens", "cost_usd",
    "latency_ms", "cached", "error",
)  # fmt: skip


def case_judge_calls(store: Store, run_id: str, case_id: str) -> dict[str, list[dict[str, object]]]:
    """The judge calls made for one case of a run, by result key (JUDGE_CALL_FIELDS each)."""
    rows = store.query(
        f"SELECT {', '.join(JUDGE_CALL_FIELDS)} FROM judge_calls WHERE run_id = ? AND result_key IN "  # noqa: S608
        "(SELECT result_key FROM results WHERE run_id = ? AND case_id = ?) ORDER BY result_key, idx, call_index",
        [run_id, run_id, case_id],
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        call = dict(zip(JUDGE_CALL_FIELDS, row, strict=True))
        out.setdefault(str(call["result_key"]), []).append(call)
    return out
