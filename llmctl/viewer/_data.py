"""What the viewer's pages and JSON API show, read from the store (one home for both)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.errors import InputError
from llmctl.labels import LabelIndex, has_output, identity_of, labels_path, read_labels
from llmctl.store import RunRecord, Store
from llmctl.store import _views as views
from llmctl.transcript import answer_view, expected_calls

RUN_FILTERS = ("evalset", "prompt", "model", "branch", "status")
RESULT_FILTERS = ("all", "failed", "flipped", "errors", "flaky")
COMPARE_FILTERS = ("all", "changed")
MAX_MATRIX_ROWS = 500  # cases on one run page (more pages follow; filters and search narrow them)
PAGE_SIZE = 500  # pairs on one compare page, results or pairs in one API page
MAX_API_LIMIT = 5000  # the most results or pairs one API page may ask for
STREAM_BATCH = 1000  # results read from the store at a time while streaming (`?limit=all`)
MAX_BLIND_PAIRS = 100  # differing pairs shown at once for a blind pairwise judgement


class BadRequest(InputError):
    """A bad query parameter or form field: answered 400 (an unknown run or case is 404)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return fmt.time(value)
    return value


def _verdict(verdict: Any) -> Any:
    """The stored verdict with its groups' rows as `metrics` too (what the run page lists)."""
    if not isinstance(verdict, dict):
        return None
    return {**verdict, "metrics": [m for g in verdict.get("groups") or [] for m in g.get("metrics") or []]}


def _loads(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def list_runs(store: Store, filters: dict[str, str], limit: int = 200) -> list[dict[str, Any]]:
    """Runs, newest first, filtered by evalset, prompt, model, branch, status and a search `q`."""
    runs = store.list_runs(limit=limit if not any(filters.values()) else 5000, evalset=filters.get("evalset") or None)
    out = []
    q = (filters.get("q") or "").lower()
    for r in runs:
        if filters.get("prompt") and filters["prompt"] not in r.prompts:
            continue
        if filters.get("model") and filters["model"] not in r.models:
            continue
        if filters.get("branch") and filters["branch"] != (r.git_branch or ""):
            continue
        if filters.get("status") and filters["status"] != r.status:
            continue
        if q:
            hay = " ".join(
                str(x)
                for x in (
                    r.id,
                    r.evalset,
                    r.git_branch,
                    r.git_commit,
                    *r.prompts,
                )
            )
            if q not in hay.lower():
                continue
        out.append(_run_doc(r, _LIST_KEYS))
        if len(out) >= limit:
            break
    return out


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    r = store.get_run(run_id)
    return _run_doc(r, _RUN_KEYS, summary=r.summary_json or {}, verdict=_verdict((r.summary_json or {}).get("verdict")))


# The keys of a run in the JSON API, in order: /api/runs lists the first, /api/runs/<id> returns
# the second. Their values are `RunRecord.to_dict()`'s, plus `role`, `gate_passed` and `verdict`.
_LIST_KEYS = (
    "id", "started_at", "finished_at", "status", "evalset", "git_commit", "git_branch", "role", "baseline_run_id",
    "prompts", "models", "n_results", "n_passed", "n_errors", "pass_rate", "cost_usd", "gate_passed",
)  # fmt: skip
_RUN_KEYS = (
    "id", "started_at", "finished_at", "status", "evalset", "git_commit", "git_branch", "baseline_run_id", "config",
    "n_results", "n_passed", "n_errors", "pass_rate", "cost_usd", "prompts", "models", "summary", "gate_passed",
    "verdict",
)  # fmt: skip


def _run_doc(r: RunRecord, keys: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """The run's `keys`, from `to_dict()` and `extra`, as JSON (times as text)."""
    data: dict[str, Any] = {
        **r.to_dict(),
        "role": r.config.get("role", "candidate"),
        "gate_passed": (r.summary_json or {}).get("gate_passed"),
        **extra,
    }
    doc: dict[str, Any] = _jsonable({k: data[k] for k in keys})
    return doc


def results(
    store: Store,
    run_id: str,
    root: Path | None = None,
    case_id: str | None = None,
    *,
    case_ids: list[str] | None = None,
    result_keys: list[str] | None = None,
    index: LabelIndex | None = None,
    run: RunRecord | dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The results of a run (all, one case's, some cases' or some result keys') with their scores
    and (given `root`) their human labels. `run`: the run as the store's or this module's `get_run`
    gave it (saves a lookup)."""
    if (result_keys is not None and not result_keys) or (case_ids is not None and not case_ids):
        return []
    if run is None:
        run = store.get_run(run_id)
    rid, evalset = (run.id, run.evalset) if isinstance(run, RunRecord) else (str(run["id"]), run.get("evalset"))
    table = store.results_table(rid, case_id=case_id, case_ids=case_ids, result_keys=result_keys).to_pylist()
    if index is None:
        index = _label_index(root, evalset)
    return [_result_row(row, index) for row in table]


def _result_row(row: dict[str, Any], index: LabelIndex) -> dict[str, Any]:
    row = dict(row)
    row["input"] = _loads(row.get("input"))
    row["expected"] = _loads(row.get("expected"))
    row["scores"] = [
        {**s, "config": _loads(s.get("config")), "unscored": s.get("passed") is None and s.get("error") is None}
        for s in (row.get("scores") or [])
        if s is not None
    ]
    row["passed"] = bool(row.get("passed")) and row.get("error") is None
    answered = has_output(row)
    row["output_sha256"] = identity_of(row) if answered else None
    label = index.of(row) if answered else None
    row["human_label"] = label.to_dict() if label else None
    row["label_stamp"] = label.stamp if label else ""
    row["tool_calls"] = _loads(row.get("tool_calls"))
    row["turns"] = _loads(row.get("turns"))
    row["answer"] = answer_view(row.get("output"), row["tool_calls"], row.get("finish_reason"), row["turns"])
    # Only the row's own columns can be times (created_at): what was parsed from JSON, the scores and
    # the label hold none, so the row is not walked value by value (that was most of a page's time).
    for key, value in row.items():
        if isinstance(value, (datetime, date)):
            row[key] = fmt.time(value)
    if row["human_label"] is not None:
        row["human_label"] = _jsonable(row["human_label"])
    return row


def page_number(value: Any, pages: int) -> int:
    """A 1-based page number from a query string (`last` for the last), within 1..pages."""
    text = str(value or "1").strip().lower()
    if text == "last":
        return max(pages, 1)
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return 1
    return min(max(int(text), 1), max(pages, 1))


def api_limit(value: Any) -> int | None:
    """`?limit=`: a number of items per API page (at most MAX_API_LIMIT), or None for `all` (streamed)."""
    text = str(value if value is not None else PAGE_SIZE).strip().lower()
    if text == "all":
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise BadRequest(f"limit must be a number from 1 to {MAX_API_LIMIT} or 'all', got {text[:40]!r}")
    return min(max(int(text), 1), MAX_API_LIMIT)


def api_offset(value: Any) -> int:
    text = str(value if value is not None else "0").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise BadRequest(f"offset must be a whole number, got {text[:40]!r}")
    return int(text)


def results_page(
    store: Store, run_id: str, root: Path | None, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of a run's results (in prompt, model, case, repeat order) and how many there are."""
    run = store.get_run(run_id)
    keys, total = views.result_keys_page(store, run.id, limit, offset)
    rows = results(store, run.id, root, result_keys=keys, run=run) if keys else []
    return rows, total


def results_stream(store: Store, run_id: str, root: Path | None) -> Iterator[bytes]:
    """Every result of a run as one JSON array, read and sent STREAM_BATCH results at a time."""
    run = store.get_run(run_id)
    index = _label_index(root, run.evalset)
    after: tuple[Any, ...] | None = None
    yield b"["
    first = True
    while True:
        keys, after = views.result_keys_after(store, run.id, after, STREAM_BATCH)
        if not keys:
            break
        for row in results(store, run.id, result_keys=keys, index=index, run=run):
            yield (b"" if first else b",") + _dumps(row)
            first = False
    yield b"]"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=fmt.json_default, ensure_ascii=False).encode("utf-8")


def repeat_index(value: Any) -> int | None:
    """A repeat index from a URL or form (digits only, as written), None when it is not one."""
    text = str(value if value is not None else "0").strip() or "0"
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    return int(text)


def _label_index(root: Path | None, evalset: Any) -> LabelIndex:
    if root is None or not evalset:
        return LabelIndex([])
    try:
        return LabelIndex(read_labels(labels_path(root, str(evalset))))
    except InputError:
        return LabelIndex([])


def column_key(r: dict[str, Any]) -> str:
    """A matrix column: prompt, its version (short hash) and model."""
    version = (r.get("version_hash") or "").split(":")[-1][:8]
    return f"{r['prompt']}@{version} · {r['model']}"


def matrix(rows: list[dict[str, Any]], baseline: list[dict[str, Any]] | None, flt: str, q: str) -> dict[str, Any]:
    """Cases x (prompt version, model): cells of results (repeats together), filtered (in memory;
    the run page uses `run_matrix`, which filters and pages in the store)."""
    columns: list[str] = []
    cells: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        col = column_key(r)
        if col not in columns:
            columns.append(col)
        cells.setdefault(r["case_id"], {}).setdefault(col, []).append(r)
    base_pass: dict[tuple[str, str], bool] = {}
    for b in baseline or []:
        key = (b["case_id"], b["model"])
        base_pass[key] = base_pass.get(key, True) and bool(b["passed"])
    flipped: set[str] = set()
    for r in rows:
        key = (r["case_id"], r["model"])
        if base_pass.get(key) is True and not r["passed"]:
            flipped.add(r["case_id"])
    query = q.lower().strip()
    out_rows = []
    for case_id, by_col in cells.items():
        items = [x for xs in by_col.values() for x in xs]
        flaky = any(len({bool(x["passed"]) for x in xs}) > 1 for xs in by_col.values())
        keep = {
            "all": True,
            "failed": any(not x["passed"] for x in items),
            "errors": any(x.get("error") for x in items),
            "flipped": case_id in flipped,
            "flaky": flaky,
        }.get(flt, True)
        if keep and query:
            hay = " ".join(
                [case_id]
                + [json.dumps(x.get("input"), ensure_ascii=False) + " " + (x.get("output") or "") for x in items]
            )
            keep = query in hay.lower()
        if keep:
            out_rows.append(
                {
                    "case_id": case_id,
                    "flipped": case_id in flipped,
                    "flaky": flaky,
                    "cells": [by_col.get(c, []) for c in columns],
                }
            )
    return {
        "columns": columns,
        "rows": out_rows[:MAX_MATRIX_ROWS],
        "total_rows": len(out_rows),
        "flipped": sorted(flipped),
    }


def run_matrix(store: Store, run: dict[str, Any], root: Path | None, flt: str, q: str, page: Any = 1) -> dict[str, Any]:
    """The run page's matrix, filtered and paged in the store: only one page of cases
    (MAX_MATRIX_ROWS) is read in full, however big the run."""
    run_id, base_id = str(run["id"]), str(run.get("baseline_run_id") or "")
    search = q.lower().strip()
    last = str(page or "").strip().lower() == "last"
    number = 1 if last else page_number(page, 10**9)

    def read(n: int) -> tuple[list[tuple[str, str | None, str]], list[tuple[str, bool, bool]], int | None]:
        return views.matrix_page(store, run_id, base_id, search, flt, MAX_MATRIX_ROWS, (n - 1) * MAX_MATRIX_ROWS)

    cols, picked, total = read(number)  # one query for the page: its rows carry the total
    if last or (not picked and number > 1):  # the last page, or past the end: count, then read it
        if total is None:
            total = views.matrix_count(store, run_id, base_id, search, flt)
        wanted = max((total + MAX_MATRIX_ROWS - 1) // MAX_MATRIX_ROWS, 1)
        if wanted != number:
            number = wanted
            cols, picked, _ = read(number)
    total = total or 0
    pages = max((total + MAX_MATRIX_ROWS - 1) // MAX_MATRIX_ROWS, 1)
    names = (f"{prompt}@{(vh or '').split(':')[-1][:8]} · {model}" for prompt, vh, model in cols)
    columns = list(dict.fromkeys(names))
    ids = [c for c, _, _ in picked]
    rows = results(store, run_id, root, case_ids=ids, run=run) if ids else []
    cells: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        cells.setdefault(r["case_id"], {}).setdefault(column_key(r), []).append(r)
    out_rows = [
        {
            "case_id": c,
            "flipped": bool(fl),
            "flaky": bool(fk),
            "cells": [cells.get(c, {}).get(col, []) for col in columns],
        }
        for c, fl, fk in picked
    ]
    return {"columns": columns, "rows": out_rows, "total_rows": total, "page": number, "pages": pages}


def compare(
    store: Store,
    a: str,
    b: str,
    flt: str = "all",
    *,
    offset: int = 0,
    limit: int | None = None,
    runs: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Two runs paired by (prompt, model, case, repeat); flipped cases first. Pairing, ordering and
    counting happen in the store; only `limit` pairs from `offset` are read in full (None: all).
    `flt`: all, or changed (a flip or a pair only one side has). `runs`: both runs, already looked up."""
    ra, rb = runs if runs is not None else (get_run(store, a), get_run(store, b))
    page: list[views.PairRow] = []
    if limit == 0:
        counts = views.pair_counts(store, ra["id"], rb["id"])
    else:
        counts, page = views.pairs_page(store, ra["id"], rb["id"], changed_only=flt == "changed", limit=limit,
                                        offset=offset)  # fmt: skip
    total = sum(n for c, n in counts.items() if flt != "changed" or c != "same")
    index = LabelIndex([])
    left = {r["result_key"]: r for r in results(store, ra["id"], result_keys=[x[5] for x in page if x[5]],
                                                 index=index, run=ra)}  # fmt: skip
    right = {r["result_key"]: r for r in results(store, rb["id"], result_keys=[x[6] for x in page if x[6]],
                                                  index=index, run=rb)}  # fmt: skip
    pairs = [
        {"prompt": prompt, "model": model, "case_id": case_id, "repeat_index": rep, "change": change,
         "a": left.get(ka) if ka else None, "b": right.get(kb) if kb else None}
        for prompt, model, case_id, rep, change, ka, kb in page
    ]  # fmt: skip
    return {"a": ra, "b": rb, "pairs": pairs, "total": total, "offset": offset, "counts": counts, "filter": flt}


def compare_stream(store: Store, a: str, b: str, flt: str = "all") -> Iterator[bytes]:
    """`compare` of every pair as one JSON document, read and sent STREAM_BATCH pairs at a time."""
    runs = (get_run(store, a), get_run(store, b))
    head = compare(store, a, b, flt, offset=0, limit=0, runs=runs)
    yield b'{"a": ' + _dumps(head["a"]) + b', "b": ' + _dumps(head["b"]) + b', "total": ' + _dumps(head["total"])
    yield b', "counts": ' + _dumps(head["counts"]) + b', "filter": ' + _dumps(flt) + b', "pairs": ['
    offset = 0
    while offset < head["total"]:
        part = compare(store, a, b, flt, offset=offset, limit=STREAM_BATCH, runs=runs)["pairs"]
        if not part:
            break
        for i, pair in enumerate(part):
            yield (b"," if offset or i else b"") + _dumps(pair)
        offset += len(part)
    yield b"]}"


def prompt_history(store: Store, name: str, root: Path | None = None) -> dict[str, Any]:
    """A prompt's versions (first seen first) with pass rate, mean cost and p95 latency over all their results."""
    rows = views.prompt_version_stats(store, name)
    if not rows:
        raise InputError(f"no results for prompt {name!r} in the store")
    labels = _lock_labels(root, name)
    versions = []
    for stats in rows:
        row: dict[str, Any] = dict(stats)
        passed = row.pop("n_passed")
        scored = row["n_results"] - row["n_errors"] - row["n_unscored"]
        row["pass_rate"] = passed / scored if scored else None  # as the run summary
        row["labels"] = labels.get(row["version_hash"] or "", [])
        versions.append(_jsonable(row))
    return {"prompt": name, "versions": versions}


def _lock_labels(root: Path | None, name: str) -> dict[str, list[str]]:
    """version hash -> its release (vN) and labels from prompts/llmctl.lock (nothing without one)."""
    if root is None:
        return {}
    from llmctl.release import lockfile

    try:
        entry = lockfile.load_for(root).entry(name)
    except InputError:
        return {}
    if entry is None:
        return {}
    return {r.hash: [r.version, *entry.labels_of(r.version)] for r in entry.ordered_releases()}


def case(store: Store, run_id: str, case_id: str, root: Path | None = None) -> dict[str, Any]:
    """One case of a run: every result (model, repeat) with scores, judge calls and label."""
    run = get_run(store, run_id)
    items = results(store, run["id"], root, case_id=case_id)
    if not items:
        raise InputError(f"run {run['id']} has no case {case_id!r}")
    by_key = views.case_judge_calls(store, run["id"], case_id)
    for r in items:
        r["judge_calls"] = by_key.get(r["result_key"], [])
    context = _case_context(store, run, case_id, root)
    return {
        "run": run,
        "case_id": case_id,
        "results": items,
        "vars": context.get("vars"),
        "expected_tool_calls": expected_calls(context.get("expected_tool_calls")),
        "user_turns": context.get("user_turns") or [],
    }


def _case_context(store: Store, run: dict[str, Any], case_id: str, root: Path | None) -> dict[str, Any]:
    """The case as its evalset file has it now (vars, expected tool calls, scripted user turns); {} without one.
    Only this case is looked up (the whole run's report context was most of the page's time at 100k results)."""
    from llmctl.reports._context import evalset_cases

    return evalset_cases(root, (run.get("config") or {}).get("evalset_path"), {case_id}).get(case_id, {})


def facets(runs: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """The values each runs-list filter can take."""
    out: dict[str, set[str]] = {k: set() for k in RUN_FILTERS}
    for r in runs:
        for k, key in (("evalset", "evalset"), ("branch", "git_branch"), ("status", "status")):
            if r.get(key):
                out[k].add(str(r[key]))
        out["prompt"].update(r.get("prompts") or [])
        out["model"].update(r.get("models") or [])
    return {k: sorted(v) for k, v in out.items()}


def blind_pairs(store: Store, a: str, b: str, rng: Any) -> list[dict[str, Any]]:
    """Up to MAX_BLIND_PAIRS pairs of two runs whose outputs differ (a random sample of them), each
    in a random order, without saying which run gave which output (for a human's pairwise judgement)."""
    ra, rb = get_run(store, a), get_run(store, b)
    picked = views.differing_pair_keys(store, ra["id"], rb["id"], str(rng.random()), MAX_BLIND_PAIRS)
    left = {r["result_key"]: r for r in results(store, ra["id"], result_keys=[k for k, _ in picked])}
    right = {r["result_key"]: r for r in results(store, rb["id"], result_keys=[k for _, k in picked])}
    out = []
    for ka, kb in picked:
        x, y = left[ka], right[kb]
        first, second = (x, y) if rng.random() < 0.5 else (y, x)
        out.append(
            {
                "case_id": x["case_id"],
                "model": x["model"],
                "repeat_index": x["repeat_index"],
                "outputs": [first["output"], second["output"]],
                "answers": [first["answer"], second["answer"]],  # with their tool calls and turns
                "sha256": [first["output_sha256"], second["output_sha256"]],
            }
        )
    rng.shuffle(out)
    return out
