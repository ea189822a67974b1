"""The Runner: what one `llmctl eval` keeps in memory while it finishes its runs."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from llmctl.config import load_config
from llmctl.run import EvalOptions, Runner
from llmctl.types import Case
from tests.e2e.project import sourced_project


def test_cases_are_not_kept_while_the_runs_outcomes_are_read(tmp_path: Path) -> None:
    """Issue 27: the outcomes are read back from the store at the end of a run (the gate, the
    summary); the evalset's cases must be gone by then, so memory is the cases' or the outcomes',
    never both (a 100,000-case run peaked there)."""
    sourced_project(tmp_path, [{"id": f"c{i}", "vars": {"question": f"question {i}"}} for i in range(40)])
    live: list[int] = []

    class Counting(Runner):
        def _finalize(self, *args: Any, **kwargs: Any) -> None:
            gc.collect()
            live.append(sum(isinstance(o, Case) for o in gc.get_objects()))
            super()._finalize(*args, **kwargs)

    outcome = Counting(load_config(tmp_path), EvalOptions(evalsets=["qa"])).run()
    assert outcome.exit_code == 0 and outcome.runs[0].summary
    assert live == [0]
