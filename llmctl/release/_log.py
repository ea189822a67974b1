"""`llmctl log`: a prompt's releases and label moves over time, with each version's latest results."""

from __future__ import annotations

from typing import Any

from llmctl.config import Config
from llmctl.errors import InputError
from llmctl.release import lockfile as lf
from llmctl.release._metrics import StoreLike, open_store, version_metrics
from llmctl.release._refs import load_lock, worktree_library


def prompt_log(cfg: Config, name: str, store: StoreLike | None = None, *, use_store: bool = True) -> dict[str, Any]:
    """Releases and label moves over time, with each version's latest results where the store has them."""
    lock = load_lock(cfg)
    entry = lock.entry(name)
    worktree: dict[str, Any] | None = None
    try:
        wt = worktree_library(cfg).get(name)
        worktree = {"hash": wt.hash, "released_as": None}
    except InputError:
        if entry is None:
            raise
    if entry is None:
        entry = lf.PromptEntry(name=name)
    if worktree is not None:
        rel = entry.release_for_hash(worktree["hash"])
        worktree["released_as"] = rel.version if rel else None
    if store is None and use_store:
        store = open_store(cfg)

    def results(content_hash: str) -> dict[str, Any] | None:
        if store is None:
            return None
        run = store.latest_run_for(name, content_hash)
        return version_metrics(run, name, content_hash) if run else None

    releases = []
    for release in entry.ordered_releases():
        releases.append(
            {
                "version": release.version,
                "hash": release.hash,
                "commit": release.commit,
                "date": release.date,
                "author": release.author,
                "forced": release.forced,
                "labels": entry.labels_of(release.version),
                "evals": [e.to_dict() for e in release.evals],
                "results": results(release.hash),
            }
        )
    events: list[dict[str, Any]] = []
    for release in entry.ordered_releases():
        events.append(
            {
                "date": release.date,
                "event": "release",
                "version": release.version,
                "label": None,
                "commit": release.commit,
                "author": release.author,
                "forced": release.forced,
                "rollback": False,
            }
        )
    for label_name in sorted(entry.labels):
        prev: str | None = None
        for move in entry.labels[label_name].history:
            rollback = (
                prev is not None and lf.is_version(prev) and lf.version_number(move.version) < lf.version_number(prev)
            )
            events.append(
                {
                    "date": move.date,
                    "event": "label",
                    "version": move.version,
                    "label": label_name,
                    "commit": move.commit,
                    "author": move.author,
                    "forced": move.forced,
                    "rollback": rollback,
                    "previous": prev,
                }
            )
            prev = move.version
    events.sort(key=lambda e: (e["date"] or "", 0 if e["event"] == "release" else 1))
    if worktree is not None and worktree["released_as"] is None:
        worktree["results"] = results(worktree["hash"])
    return {
        "prompt": name,
        "labels": {lab: entry.labels[lab].version for lab in sorted(entry.labels)},
        "releases": releases,
        "events": events,
        "worktree": worktree,
        "store": store is not None,
    }
