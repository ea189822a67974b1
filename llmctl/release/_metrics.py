"""What the store says about prompt versions: a run's summary, one version's metrics, its outcomes.

Read by promotion (the gate as it stands for a version), `llmctl log` and
`llmctl diff`. The store is opened only when it exists (nothing is created).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from llmctl.config import Config
from llmctl.errors import InputError
from llmctl.types import CaseOutcome

if TYPE_CHECKING:
    from llmctl.store import JSONObject, RunRecord


class StoreLike(Protocol):
    """The part of `llmctl.store.Store` the release package reads."""

    def latest_run_for(
        self, prompt: str, version_hash: str, evalset: str | None = None, *, candidate_only: bool = False
    ) -> RunRecord | None: ...

    def runs_for_version(self, prompt: str, version_hash: str) -> list[RunRecord]: ...

    def get_run(self, run_id_or_prefix: str) -> RunRecord: ...

    def outcomes(self, run_id: str) -> list[CaseOutcome]: ...


def open_store(cfg: Config) -> StoreLike | None:
    """The project's store, or None when it does not exist yet (nothing is created)."""
    if not cfg.store_exists():
        return None
    from llmctl.store import Store

    store: StoreLike = Store(cfg.store_location)
    return store


def evalsets_using(cfg: Config, name: str) -> list[Any]:
    """Evalsets (work tree) whose `prompt:` names `name` without pinning a ref."""
    from llmctl.evalset import find_evalsets, load_evalset

    found = []
    for path in find_evalsets(cfg.root, cfg.evalsets_dir):
        try:
            ev = load_evalset(path, cfg.root, cfg.evalsets_dir)
        except InputError:
            continue  # `llmctl lint` reports broken evalsets; they cannot gate anything
        if any(p.name == name and p.ref is None for p in ev.prompts):
            found.append(ev)
    return found


def role_of(run: RunRecord) -> str:
    """Which side of an eval a run was: "candidate" (gated) or "baseline" (compared against)."""
    return run.role


def run_summary(run: RunRecord) -> JSONObject:
    """The run's summary as stored (`runs.summary`); {} for a run without one."""
    return run.summary_json or {}


def version_metrics(run: RunRecord, prompt: str, version_hash: str | None = None) -> dict[str, Any]:
    """Pass rate, mean cost and p95 latency of one prompt (version) in a run's summary."""
    stored: Any = run_summary(run).get("groups") or []  # the stored JSON, as older llmctl versions wrote it
    groups = [
        g
        for g in stored
        if g.get("prompt") == prompt and (version_hash is None or g.get("version_hash") in (None, version_hash))
    ]
    n = sum(int(g.get("n") or 0) for g in groups)
    if not groups or n == 0:
        return {"run": run.id, "evalset": run.evalset, "n": 0}

    def wmean(key: str) -> float | None:
        vals = [(float(g[key]), int(g.get("n") or 0)) for g in groups if g.get(key) is not None]
        total = sum(w for _, w in vals)
        return sum(v * w for v, w in vals) / total if total else None

    p95 = [float(g["latency_p95"]) for g in groups if g.get("latency_p95") is not None]
    return {
        "run": run.id,
        "evalset": run.evalset,
        "n": n,
        "models": sorted({str(g.get("model")) for g in groups}),
        "pass_rate": wmean("pass_rate"),
        "cost_usd_mean": wmean("cost_usd_mean"),
        "latency_p95": max(p95) if p95 else None,
        "gate_passed": run_summary(run).get("gate_passed"),
    }


def outcomes_for(store: StoreLike, run_id: str, prompt: str, version_hash: str | None = None) -> list[CaseOutcome]:
    return [
        o
        for o in store.outcomes(run_id)
        if o.prompt == prompt and (version_hash is None or not o.version_hash or o.version_hash == version_hash)
    ]
