"""Finishing a run: the gate's verdict, the run summary, the stored status, the exit code.

`finalize` compares the candidate run with its baseline run (when there is one)
under the evalset's gate, adds the judges' calibration gate, groups the errors
by cause and stores both runs' summaries as completed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llmctl.config import GateConfig
from llmctl.errors import EXIT_GATE_FAILED, EXIT_INFRA, EXIT_OK, StoreIOError

if TYPE_CHECKING:
    from llmctl.batch._engine import BatchPhase
    from llmctl.store import Store
    from llmctl.summary import FailingCase
    from llmctl.verdict import Verdict


@dataclass
class RunInfo:
    """One evalset's run (and its baseline run) with the gate's verdict."""

    run_id: str
    evalset: str
    baseline_run_id: str | None = None
    verdict: Verdict | None = None
    summary: dict[str, object] = field(default_factory=dict)  # the stored JSON (llmctl.summary.RunSummary.to_dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (prompt, model, case_id) with error
    error_causes: list[tuple[str, int]] = field(default_factory=list)  # (first line of the error, count), most first
    interrupted: bool = False
    reasons: list[str] = field(default_factory=list)  # what changed since the baseline (fingerprint)
    failing: list[FailingCase] = field(default_factory=list)  # the candidate's failing cases
    batch: BatchPhase | None = None  # of its evalset, when it batched
    submitted: int = 0  # requests still in a provider batch: the run is `submitted`, not evaluated


@dataclass
class EvalOutcome:
    runs: list[RunInfo] = field(default_factory=list)
    exit_code: int = EXIT_OK
    dry_run_cases: int = 0
    skipped: list[str] = field(default_factory=list)  # evalsets skipped by --changed-only
    dry_run_tokens: int = 0  # estimated prompt tokens of the calls a dry run counted
    dry_run_cost: float | None = None  # estimated prompt cost (USD) where every model has a price
    dry_run_images: int = 0  # image inputs the dry run counted
    dry_run_image_tokens: int = 0  # their estimated prompt tokens (part of dry_run_tokens)
    dry_run_by_evalset: dict[str, int] = field(default_factory=dict)


def finalize(
    store: Store, info: RunInfo, gate_cfg: GateConfig, stopped_by_disk: Callable[[StoreIOError, str], StoreIOError]
) -> None:
    """Set `info`'s verdict, errors and summary, and store the run (and its baseline run) as completed.

    A store that fails to write is handed to `stopped_by_disk` (which says how to resume).
    """
    from llmctl.calibrate import judge_gate
    from llmctl.gate import compare
    from llmctl.summary import failing_cases, summarize

    candidate = store.outcomes(info.run_id)
    baseline = store.outcomes(info.baseline_run_id) if info.baseline_run_id else None
    verdict = compare(baseline, candidate, gate_cfg)
    if info.reasons:
        verdict.notes.insert(0, "evaluated because: " + "; ".join(info.reasons))
    if baseline is not None:
        reused = sum(1 for o in baseline if o.cached)
        verdict.notes.append(
            f"baseline: {reused} of {len(baseline)} result(s) reused from the store, "
            f"{len(baseline) - reused} evaluated now"
        )
    judges = judge_gate(store, info.run_id, gate_cfg)
    if judges:
        verdict.metrics.extend(judges)
        if any(not m.passed for m in judges):
            verdict.passed = False
            verdict.notes.extend(m.note for m in judges if not m.passed)
    info.verdict = verdict
    info.errors = sorted({(o.prompt, o.model, o.case_id) for o in candidate if o.error})
    info.error_causes = error_causes(o.error for o in candidate if o.error)
    info.summary = summarize(candidate, verdict).to_dict()
    info.failing = failing_cases(candidate, info.run_id)
    status = "completed"
    # On a shared (DuckLake) store: the snapshot the verdict's reads saw, recorded with it.
    snapshot = store.snapshot() if hasattr(store, "snapshot") else None
    try:
        if snapshot is None:
            store.finish_run(info.run_id, status, info.summary)
        else:
            store.finish_run(info.run_id, status, info.summary, gate_snapshot=snapshot)
        if info.baseline_run_id:
            base_summary = summarize(baseline or [], None).to_dict()
            store.finish_run(info.baseline_run_id, "completed", base_summary)
    except StoreIOError as exc:
        raise stopped_by_disk(exc, info.run_id) from None


def error_causes(errors: Iterable[str]) -> list[tuple[str, int]]:
    """Errors grouped by cause (their first line), most frequent first."""
    from collections import Counter

    counts = Counter((e.strip().splitlines() or [""])[0][:300] for e in errors)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def exit_code_for(outcome: EvalOutcome) -> int:
    """3 when provider errors left cases without results, else 1 when a gate failed, else 0."""
    # a run left `submitted` (--no-wait) has not been evaluated: its gate has not run
    if any(info.errors for info in outcome.runs):
        return EXIT_INFRA
    if any(info.verdict is not None and not info.verdict.passed for info in outcome.runs):
        return EXIT_GATE_FAILED
    return EXIT_OK
