"""What the viewer's pages and JSON API show, read from the store (one home for both)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.errors import InputError
from llmctl.labels import LabelIndex, has_output, identity_of, labels_path, read_labels
from llmctl.store import Store

RUN_FILTERS = ("evalset", "prompt", "model", "branch", "status")
RESULT_FILTERS = ("all", "failed", "flipped", "errors", "flaky")
MAX_MATRIX_ROWS = 500  # cases on one run page; filters and search narrow a bigger run


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
        if filters.get("prompt") and filters["prompt"] not in (r.get("prompts") or []):
            continue
        if filters.get("model") and filters["model"] not in (r.get("models") or []):
            continue
        if filters.get("branch") and filters["branch"] != (r.get("git_branch") or ""):
            continue
        if filters.get("status") and filters["status"] != r.get("status"):
            continue
        if q:
            hay = " ".join(
                str(x)
                for x in (
                    r["id"],
                    r.get("evalset"),
                    r.get("git_branch"),
                    r.get("git_commit"),
                    *(r.get("prompts") or []),
                )
            )
            if q not in hay.lower():
                continue
        summary = r.get("summary") or {}
        out.append(
            _jsonable(
                {
                    "id": r["id"],
                    "started_at": r.get("started_at"),
                    "finished_at": r.get("finished_at"),
                    "status": r.get("status"),
                    "evalset": r.get("evalset"),
                    "git_commit": r.get("git_commit"),
                    "git_branch": r.get("git_branch"),
                    "role": (r.get("config") or {}).get("role", "candidate"),
                    "baseline_run_id": r.get("baseline_run_id"),
                    "prompts": r.get("prompts") or [],
                    "models": r.get("models") or [],
                    "n_results": r.get("n_results", 0),
                    "n_passed": r.get("n_passed", 0),
                    "n_errors": r.get("n_errors", 0),
                    "pass_rate": r.get("pass_rate"),
                    "cost_usd": r.get("cost_usd"),
                    "gate_passed": summary.get("gate_passed") if isinstance(summary, dict) else None,
                }
            )
        )
        if len(out) >= limit:
            break
    return out


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    r = store.get_run(run_id)
    summary = r.get("summary") or {}
    return _jsonable(
        {
            **{k: r.get(k) for k in ("id", "started_at", "finished_at", "status", "evalset", "git_commit")},
            "git_branch": r.get("git_branch"),
            "baseline_run_id": r.get("baseline_run_id"),
            "config": r.get("config") or {},
            "n_results": r.get("n_results", 0),
            "n_passed": r.get("n_passed", 0),
            "n_errors": r.get("n_errors", 0),
            "pass_rate": r.get("pass_rate"),
            "cost_usd": r.get("cost_usd"),
            "prompts": r.get("prompts") or [],
            "models": r.get("models") or [],
            "summary": summary,
            "gate_passed": summary.get("gate_passed") if isinstance(summary, dict) else None,
            "verdict": _verdict(summary.get("verdict") if isinstance(summary, dict) else None),
        }
    )


def results(store: Store, run_id: str, root: Path | None = None, case_id: str | None = None) -> list[dict[str, Any]]:
    """Every result of a run (or of one case) with its scores and (given `root`) its human label."""
    run = store.get_run(run_id)
    table = store.results_table(str(run["id"]), case_id=case_id).to_pylist()
    index = _label_index(root, run.get("evalset"))
    out = []
    for row in table:
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
        out.append(_jsonable(row))
    return out


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
    """Cases x (prompt version, model): cells of results (repeats together), filtered."""
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


def compare(store: Store, a: str, b: str) -> dict[str, Any]:
    """Two runs paired by (prompt, model, case, repeat); flipped cases first."""
    left = {(r["prompt"], r["model"], r["case_id"], r["repeat_index"]): r for r in results(store, a)}
    right = {(r["prompt"], r["model"], r["case_id"], r["repeat_index"]): r for r in results(store, b)}
    pairs = []
    for key in sorted(set(left) | set(right)):
        x, y = left.get(key), right.get(key)
        if x is not None and y is not None and x["passed"] and not y["passed"]:
            change = "pass -> fail"
        elif x is not None and y is not None and not x["passed"] and y["passed"]:
            change = "fail -> pass"
        elif x is None or y is None:
            change = "only in " + ("b" if x is None else "a")
        else:
            change = "same"
        pairs.append(
            {
                "prompt": key[0],
                "model": key[1],
                "case_id": key[2],
                "repeat_index": key[3],
                "change": change,
                "a": x,
                "b": y,
            }
        )
    order = {"pass -> fail": 0, "fail -> pass": 1}
    pairs.sort(key=lambda p: (order.get(p["change"], 2), p["case_id"], p["model"]))
    return {"a": get_run(store, a), "b": get_run(store, b), "pairs": pairs}


def prompt_history(store: Store, name: str, root: Path | None = None) -> dict[str, Any]:
    """A prompt's versions (first seen first) with pass rate, mean cost and p95 latency over all their results."""
    rows = store.query(
        "SELECT r.version_hash, min(coalesce(pv.first_seen, r.created_at)) AS first_seen, any_value(pv.git_commit), "
        "count(*), count_if(r.passed AND r.error IS NULL), count(r.error), "
        "avg(r.cost_usd) FILTER (r.error IS NULL), quantile_cont(r.latency_ms, 0.95) FILTER (r.error IS NULL), "
        "count(DISTINCT r.run_id) "
        "FROM results r LEFT JOIN prompt_versions pv ON pv.version_hash = r.version_hash "
        "WHERE r.prompt = ? GROUP BY r.version_hash ORDER BY 2, 1",
        [name],
    )
    if not rows:
        raise InputError(f"no results for prompt {name!r} in the store")
    labels = _lock_labels(root, name)
    versions = []
    for vh, first, commit, n, passed, errors, cost, p95, nruns in rows:
        versions.append(
            _jsonable(
                {
                    "version_hash": vh,
                    "first_seen": first,
                    "git_commit": commit,
                    "n_results": n,
                    "n_errors": errors,
                    "pass_rate": passed / (n - errors) if n - errors else None,  # as the run summary
                    "cost_usd_mean": cost,
                    "latency_p95_ms": p95,
                    "runs": nruns,
                    "labels": labels.get(vh or "", []),
                }
            )
        )
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
    calls = store.query(
        "SELECT result_key, evaluator, call_index, model, prompt_tokens, completion_tokens, cost_usd, latency_ms, "
        "cached, error FROM judge_calls WHERE run_id = ? AND result_key IN "
        "(SELECT result_key FROM results WHERE run_id = ? AND case_id = ?) ORDER BY result_key, idx, call_index",
        [run["id"], run["id"], case_id],
    )
    by_key: dict[str, list[dict[str, Any]]] = {}
    names = ("result_key", "evaluator", "call_index", "model", "prompt_tokens", "completion_tokens", "cost_usd",
             "latency_ms", "cached", "error")  # fmt: skip
    for c in calls:
        d = dict(zip(names, c, strict=True))
        by_key.setdefault(str(d["result_key"]), []).append(d)
    for r in items:
        r["judge_calls"] = by_key.get(r["result_key"], [])
    return {"run": run, "case_id": case_id, "results": items}


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
    """The pairs of two runs whose outputs differ, each in a random order, without saying which
    run gave which output (for a human's pairwise judgement)."""
    out = []
    for p in compare(store, a, b)["pairs"]:
        x, y = p["a"], p["b"]
        if not x or not y or x.get("output") is None or y.get("output") is None or x["output"] == y["output"]:
            continue
        first, second = (x, y) if rng.random() < 0.5 else (y, x)
        out.append(
            {
                "case_id": p["case_id"],
                "model": p["model"],
                "repeat_index": p["repeat_index"],
                "outputs": [first["output"], second["output"]],
                "sha256": [first["output_sha256"], second["output_sha256"]],
            }
        )
    rng.shuffle(out)
    return out
