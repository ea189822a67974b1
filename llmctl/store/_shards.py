"""Shard runs that are already in one store (a shared DuckLake the CI shards wrote at once),
merged into one run by their ids: `llmctl runs merge RUN_A RUN_B ...`.

The shards' results, scores and judge calls are copied into a new run of the same store (with
their baseline runs when every shard has one), in one transaction, as `Store.merge` does for
shard store files; the shard runs stay as they were. A merged run is then an ordinary run:
`runs show`, `report`, `--baseline`, the viewer read it without knowing about shards. Merging
the same shard runs again finds the run made the first time and adds nothing to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import duckdb

from llmctl.errors import InputError
from llmctl.store._keys import new_run_id
from llmctl.store._records import RunRecord
from llmctl.store._schema import transaction
from llmctl.store._writer import to_json

if TYPE_CHECKING:
    from llmctl.store._store import MergeFinish, Store

# A shard run in one of these is not finished: merging it would gate part of its cases.
UNFINISHED = ("running", "interrupted", "submitted")


def check_mergeable(runs: Sequence[RunRecord], describe: str) -> None:
    """Refuse shard runs of different evalsets or git commits (`describe`: where they are)."""
    evalsets = sorted({str(r.evalset) for r in runs})
    commits = sorted({str(r.git_commit) for r in runs})
    if len(evalsets) > 1 or len(commits) > 1:
        listing = "; ".join(f"{r.id} evalset={r.evalset} commit={r.git_commit}" for r in runs)
        raise InputError(f"shard runs differ in evalset or git commit, refusing to merge them ({describe}): {listing}")


def _check_finished(runs: list[RunRecord]) -> None:
    for r in runs:
        if r.status in UNFINISHED:
            hint = (
                "collect its batches with llmctl eval --resume " + str(r.id)
                if r.status == "submitted"
                else f"if that shard was killed, complete it with llmctl eval --resume {r.id}, then merge again"
            )
            raise InputError(
                f"shard run {r.id} (shard {r.shard or '?'}) is {r.status}: "
                "merging it now would gate only part of its cases",
                hint=hint,
            )


def _check_shards(runs: list[RunRecord], complete: bool) -> None:
    """Shard runs of one split, each shard once; with `complete` every shard 1..N present (a
    verdict over part of the cases would read as the whole suite's)."""
    split: dict[int, set[int]] = {}
    seen: dict[tuple[int, int], str] = {}
    for r in runs:
        index, _, count = str(r.shard or "").partition("/")
        if not (index.isdigit() and count.isdigit()):
            continue  # not a shard run (an earlier merged run, a --rerun-failed run): no split to check
        key = (int(index), int(count))
        if key in seen:
            raise InputError(f"runs {seen[key]} and {r.id} are both shard {r.shard}: merge one of them")
        seen[key] = str(r.id)
        split.setdefault(key[1], set()).add(key[0])
    if len(split) > 1:
        listing = ", ".join(f"{r.id} ({r.shard})" for r in runs)
        raise InputError(f"shard runs split the cases into different numbers of shards: {listing}")
    if complete and split and len(seen) == len(runs):
        ((total, indexes),) = split.items()
        missing = [f"{i}/{total}" for i in range(1, total + 1) if i not in indexes]
        if missing:
            raise InputError(
                f"no shard {', '.join(missing)} among the runs to merge: the verdict would cover part of the cases",
                hint="add the missing shard runs (llmctl runs list --evalset "
                f"{runs[0].evalset}), or merge into an existing run with --into",
            )


def _earlier_merge(store: Store, evalset: str, ids: list[str]) -> str | None:
    """The run an earlier merge of exactly the runs `ids` made, if any (the newest)."""
    rows = store.query(
        "SELECT id, CAST(json_extract(config, '$.merged_from') AS VARCHAR) FROM runs "
        "WHERE evalset = ? AND json_extract(config, '$.merged_from') IS NOT NULL "
        "ORDER BY started_at DESC, id DESC",
        [evalset],
    )
    want = sorted(ids)
    for rid, merged in rows:
        try:
            sources = sorted(str(m["run_id"]) for m in json.loads(str(merged)))
        except (TypeError, KeyError, ValueError):
            continue
        if sources == want:
            return str(rid)
    return None


def merge_runs(
    store: Store,
    run_id: str | None,
    source_run_ids: list[str],
    *,
    finish: MergeFinish | None = None,
) -> tuple[str, str | None]:
    """Merge the shard runs `source_run_ids` of `store` into one run of the same store.

    Returns (merged run id, its baseline run id or None). Each id may be a unique prefix. The
    runs must be finished, share one evalset and git commit, and (without `run_id`) be every
    shard 1..N of one split. With `run_id` None a new run is made, or the run an earlier merge
    of the same runs made is taken again; an existing `run_id` gets their results added (keys
    it has are kept, so merging twice adds nothing). When every shard run has a baseline run,
    the merged run's baseline is that run if they share one, else those are merged into a new
    run too. With `finish` the merged runs get their summaries (the verdict), in the same
    transaction, and on a DuckLake the merged run records in `gate_snapshot` the snapshot the
    shards were read at.
    """
    if not source_run_ids:
        raise InputError("nothing to merge: give shard run ids (or store files)")
    runs = [store.get_run(r) for r in source_run_ids]
    ids = [str(r.id) for r in runs]
    if len(set(ids)) != len(ids):
        raise InputError(f"a shard run is named twice: {', '.join(ids)}")
    existing: RunRecord | None = None
    if run_id is not None:
        try:
            existing = store.get_run(run_id)
        except InputError:
            existing = None  # a new run of that id
        if run_id in ids or (existing is not None and existing.id in ids):
            raise InputError(f"cannot merge run {run_id} into itself")
    check_mergeable(runs, f"in {store.where}")
    _check_shards(runs, complete=existing is None)
    _check_finished(runs)
    if run_id is None:  # merging the same runs again: into the run the first merge made
        earlier = _earlier_merge(store, str(runs[0].evalset), ids)
        existing = store.get_run(earlier) if earlier else None
    target = str(existing.id) if existing else (run_id or new_run_id())
    baseline_ids = [str(r.baseline_run_id) if r.baseline_run_id else None for r in runs]
    linked: str | None = None
    base_runs: list[RunRecord] | None = None
    if all(baseline_ids) and len(set(baseline_ids)) == 1:
        linked = baseline_ids[0]  # one baseline run for every shard: the merged run's too
    elif all(baseline_ids):
        base_runs = [store.get_run(str(b)) for b in baseline_ids]
        linked = str(existing.baseline_run_id) if existing and existing.baseline_run_id else new_run_id()
        if linked == target:
            linked = target + "-b"

    def tx(con: duckdb.DuckDBPyConnection) -> None:
        def write() -> None:
            snapshot = _snapshot_in(con) if store.is_lake else None
            if base_runs is not None and linked is not None:
                store._insert_merged(con, list(enumerate(base_runs)), linked, None, in_store=True)
            store._insert_merged(con, list(enumerate(runs)), target, linked, in_store=True)
            if linked is not None:  # an existing run without a baseline gets this one
                con.execute(
                    "UPDATE runs SET baseline_run_id = ? WHERE id = ? AND baseline_run_id IS NULL", [linked, target]
                )
            if finish is not None:
                candidate = store._outcomes_in(con, target)
                baseline = store._outcomes_in(con, linked) if linked else None
                summary, base_summary = finish(candidate, baseline)
                con.execute(
                    "UPDATE runs SET summary = ?, gate_snapshot = ? WHERE id = ?", [to_json(summary), snapshot, target]
                )
                if base_runs is not None and base_summary is not None:
                    con.execute("UPDATE runs SET summary = ? WHERE id = ?", [to_json(base_summary), linked])

        transaction(con, write)

    store._db.run(tx)
    return target, linked


def _snapshot_in(con: duckdb.DuckDBPyConnection) -> int | None:
    """The DuckLake snapshot this transaction reads (the one before its own commit)."""
    from llmctl.store._lake import LAKE_NAME

    row = con.execute(f"SELECT id FROM {LAKE_NAME}.current_snapshot()").fetchall()  # noqa: S608 - a constant
    return int(row[0][0]) if row else None
