"""Shard runs that are already in one store (a shared DuckLake the CI shards wrote at once),
merged into one run by their ids, or found by the shard group they were started with.

`llmctl eval --shard I/N --shard-group G` records `shard_group` in each run's config; the
gate step (`llmctl runs merge --shard-group G`) takes, per evalset, the newest candidate run
of every shard 1..N of G and merges them, with their baseline runs when every shard has one,
in one transaction, as `Store.merge` does for shard store files. Nothing is copied between
stores: the merged run's rows are written next to the shards' in the same store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from llmctl.errors import InputError
from llmctl.store._keys import new_run_id
from llmctl.store._schema import transaction
from llmctl.store._writer import to_json

if TYPE_CHECKING:
    from llmctl.store._store import MergeFinish, Store

# A shard run in one of these is not finished: merging it would gate part of its cases.
UNFINISHED = ("running", "interrupted", "submitted")


def check_mergeable(runs: list[dict[str, Any]], describe: str) -> None:
    """Refuse shard runs of different evalsets or git commits (`describe`: where they are)."""
    evalsets = sorted({str(r["evalset"]) for r in runs})
    commits = sorted({str(r["git_commit"]) for r in runs})
    if len(evalsets) > 1 or len(commits) > 1:
        listing = "; ".join(f"{r['id']} evalset={r['evalset']} commit={r['git_commit']}" for r in runs)
        raise InputError(f"shard runs differ in evalset or git commit, refusing to merge them ({describe}): {listing}")


def _check_finished(runs: list[dict[str, Any]]) -> None:
    for r in runs:
        if r["status"] in UNFINISHED:
            hint = (
                "collect its batches with llmctl eval --resume " + str(r["id"])
                if r["status"] == "submitted"
                else f"if that shard was killed, complete it with llmctl eval --resume {r['id']}, then merge again"
            )
            raise InputError(
                f"shard run {r['id']} (shard {r.get('shard') or '?'}) is {r['status']}: "
                "merging it now would gate only part of its cases",
                hint=hint,
            )


def merge_runs(
    store: Store,
    run_id: str | None,
    source_run_ids: list[str],
    *,
    finish: MergeFinish | None = None,
) -> tuple[str, str | None]:
    """Merge the shard runs `source_run_ids` of `store` into one run of the same store.

    Returns (merged run id, merged baseline run id or None). Each id may be a unique prefix.
    The runs must be finished and share one evalset and git commit. With `run_id` None a new
    run is made; an existing `run_id` gets their results added (keys it has are kept). When
    every shard run has a baseline run, those are merged into a new run too and linked. With
    `finish` the merged runs get their summaries (the verdict), in the same transaction, and
    on a DuckLake the merged run records in `gate_snapshot` the snapshot the shards were read at.
    """
    if not source_run_ids:
        raise InputError("nothing to merge: give shard run ids (or store files)")
    runs = [store.get_run(r) for r in source_run_ids]
    ids = [str(r["id"]) for r in runs]
    if len(set(ids)) != len(ids):
        raise InputError(f"a shard run is named twice: {', '.join(ids)}")
    if run_id is not None and run_id in ids:
        raise InputError(f"cannot merge run {run_id} into itself")
    check_mergeable(runs, f"in {store.where}")
    _check_finished(runs)
    baseline_ids = [r.get("baseline_run_id") for r in runs]
    base_runs = [store.get_run(str(b)) for b in baseline_ids] if all(baseline_ids) else None
    target = run_id or new_run_id()
    base_target = new_run_id() if base_runs is not None else None
    if base_target == target:
        base_target = target + "-b"

    def tx(con: duckdb.DuckDBPyConnection) -> None:
        def write() -> None:
            snapshot = _snapshot_in(con) if store.is_lake else None
            linked = None
            if base_runs is not None and base_target is not None:
                store._insert_merged(con, list(enumerate(base_runs)), base_target, None, in_store=True)
                linked = base_target
            store._insert_merged(con, list(enumerate(runs)), target, linked, in_store=True)
            if finish is not None:
                candidate = store._outcomes_in(con, target)
                baseline = store._outcomes_in(con, linked) if linked else None
                summary, base_summary = finish(candidate, baseline)
                con.execute(
                    "UPDATE runs SET summary = ?, gate_snapshot = ? WHERE id = ?", [to_json(summary), snapshot, target]
                )
                if base_target is not None and base_summary is not None:
                    con.execute("UPDATE runs SET summary = ? WHERE id = ?", [to_json(base_summary), base_target])

        transaction(con, write)

    store._db.run(tx)
    return target, base_target


def _snapshot_in(con: duckdb.DuckDBPyConnection) -> int | None:
    """The DuckLake snapshot this transaction reads (the one before its own commit)."""
    from llmctl.store._lake import LAKE_NAME

    row = con.execute(f"SELECT id FROM {LAKE_NAME}.current_snapshot()").fetchall()  # noqa: S608 - a constant
    return int(row[0][0]) if row else None


def group_runs(store: Store, group: str) -> dict[str, list[str]]:
    """The shard runs of shard group `group`, per evalset: the newest candidate run of each shard
    1..N (a shard that was started again, not resumed, counts once). Refuses a group with a shard
    missing, or runs of one evalset that disagree on N."""
    rows = store.query(
        "SELECT id, evalset, shard, status FROM runs "
        "WHERE json_extract_string(config, '$.shard_group') = ? "
        "AND coalesce(json_extract_string(config, '$.role'), 'candidate') = 'candidate' "
        "ORDER BY started_at DESC, id DESC",
        [group],
    )
    if not rows:
        raise InputError(
            f"no run of shard group {group!r} in {store.where}",
            hint="start the shards with llmctl eval --shard I/N --shard-group " + group,
        )
    by_evalset: dict[str, dict[int, str]] = {}
    counts: dict[str, set[int]] = {}
    for rid, evalset, shard, _status in rows:
        index, _, count = str(shard or "").partition("/")
        if not (index.isdigit() and count.isdigit()):
            raise InputError(f"run {rid} of shard group {group!r} is not a shard run (shard {shard!r})")
        counts.setdefault(str(evalset), set()).add(int(count))
        by_evalset.setdefault(str(evalset), {}).setdefault(int(index), str(rid))  # newest first
    out: dict[str, list[str]] = {}
    for evalset, shards in sorted(by_evalset.items()):
        n = counts[evalset]
        if len(n) > 1:
            raise InputError(
                f"shard group {group!r}, evalset {evalset}: runs split the cases into different "
                f"numbers of shards ({', '.join(str(c) for c in sorted(n))})"
            )
        (total,) = n
        missing = [f"{i}/{total}" for i in range(1, total + 1) if i not in shards]
        if missing:
            raise InputError(
                f"shard group {group!r}, evalset {evalset}: no run of shard {', '.join(missing)} yet",
                hint="wait for every shard job to finish (or run the missing ones), then merge",
            )
        out[evalset] = [shards[i] for i in range(1, total + 1)]
    return out
