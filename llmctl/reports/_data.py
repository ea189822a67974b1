"""What a report is made of: run metadata, results, an optional verdict, the run summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmctl import fmt
from llmctl.spend import Spend
from llmctl.summary import GroupSummary, RunSummary, summarize
from llmctl.types import CaseOutcome
from llmctl.verdict import Verdict


@dataclass
class ReportData:
    """Everything a report shows. `summary` is the stored run summary (llmctl.summary); without
    one it is computed from `outcomes`, as the runner computes it."""

    run: dict[str, Any]
    outcomes: list[CaseOutcome]
    verdict: Verdict | None = None
    summary: RunSummary | None = None

    def __post_init__(self) -> None:
        if self.summary is None:
            self.summary = summarize(self.outcomes)
        elif isinstance(self.summary, dict):
            self.summary = RunSummary.from_dict(self.summary)

    @property
    def run_summary(self) -> RunSummary:
        assert self.summary is not None
        return self.summary

    @property
    def groups(self) -> list[GroupSummary]:
        """The summary's rows: one per prompt x model (per evalset, for several runs)."""
        return self.run_summary.groups

    @property
    def spend(self) -> Spend:
        """What the run spent (model + judge calls) and saved (cached results, at today's prices)."""
        return self.run_summary.spend

    @property
    def title(self) -> str:
        name = self.run.get("evalset") or self.run.get("name") or ""
        run_id = self.run.get("id") or self.run.get("run_id") or ""
        parts = ["llmctl eval", str(name), f"run {run_id}" if run_id else ""]
        return " · ".join(p for p in parts if p)

    def meta(self) -> list[tuple[str, str]]:
        """(label, text) of what the report is about: evalset, run, commit, branch, baseline, start time."""
        run = self.run
        config = run.get("config") if isinstance(run.get("config"), dict) else {}
        baseline = run.get("baseline_run_id") or run.get("baseline")
        ref = (config or {}).get("baseline")
        items = [
            ("evalset", run.get("evalset")),
            ("run", run.get("id") or run.get("run_id")),
            ("commit", str(run.get("git_commit") or run.get("commit") or "")[:12]),
            ("branch", run.get("git_branch") or run.get("branch")),
            ("baseline", f"{ref} (run {baseline})" if ref and baseline else baseline or ref),
            ("started", fmt.time(run.get("started_at") or run.get("started"))),
        ]
        return [(label, str(value)) for label, value in items if value and value != fmt.MISSING]

    @property
    def status_word(self) -> str:
        """PASS / FAIL from the verdict; without one, from the results (errors/failures)."""
        if self.verdict is not None:
            if self.verdict.passed and not self.verdict.checked:
                return "NOTHING CHECKED"
            return "PASS" if self.verdict.passed else "FAIL"
        return "NO GATE"
