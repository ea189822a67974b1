"""Results with no verdict: every evaluator left them unscored (an unlabelled `human`).

The pipeline stores such a result with NULL `passed` and `score` and no error; `outcomes_with_unscored`
marks them on `Store.outcomes`' list (`unscored=True`, `passed=False`), so the summary and the gate
can set them aside instead of counting them as passes. One extra query a run, answered from the
results table alone.
"""

from __future__ import annotations

from typing import Any

from llmctl.types import CaseOutcome

_SQL = "SELECT prompt, model, case_id, repeat_index FROM results WHERE run_id = ? AND passed IS NULL AND error IS NULL"


def unscored_keys(store: Any, run_id: str) -> set[tuple[str, str, str, int]]:
    """(prompt, model, case_id, repeat_index) of the run's results that have no verdict."""
    return {(str(p), str(m), str(c), int(r)) for p, m, c, r in store.query(_SQL, [run_id])}


def mark_unscored(store: Any, run_id: str, outcomes: list[CaseOutcome]) -> list[CaseOutcome]:
    """`outcomes` (of `run_id`, a full id) with the results that have no verdict marked unscored."""
    keys = unscored_keys(store, run_id)
    if keys:
        for o in outcomes:
            if o.error is None and (o.prompt, o.model, o.case_id, o.repeat_index) in keys:
                o.unscored = True
                o.passed = False
    return outcomes


def outcomes_with_unscored(store: Any, run_id: str) -> list[CaseOutcome]:
    """`store.outcomes(run_id)` with the results that have no verdict marked (`CaseOutcome.unscored`)."""
    outcomes: list[CaseOutcome] = store.outcomes(run_id)
    if not outcomes:
        return outcomes
    return mark_unscored(store, str(store.get_run(run_id)["id"]), outcomes)
