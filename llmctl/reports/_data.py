"""What a report is made of: run metadata, results, an optional verdict, summary rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from llmctl import stats
from llmctl.gate import Verdict, group_name
from llmctl.spend import Spend, spend_of
from llmctl.types import CaseOutcome


@dataclass
class SummaryRow:
    """Per prompt x model figures of one run (what `llmctl eval` prints and reports show)."""

    prompt: str
    model: str
    results: int
    cases: int
    passed: int
    failed: int
    errors: int
    pass_rate: float | None  # over results without errors
    pass_rate_interval: tuple[float, float] | None  # Wilson, 95%
    mean_cost_usd: float
    total_cost_usd: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    cached: int
    flaky: int

    @property
    def group(self) -> str:
        return group_name(self.prompt, self.model)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.pass_rate_interval is not None:
            data["pass_rate_interval"] = list(self.pass_rate_interval)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SummaryRow:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        interval = values.get("pass_rate_interval")
        values["pass_rate_interval"] = tuple(interval) if interval else None
        return cls(**values)


def summary_rows(outcomes: list[CaseOutcome], confidence: float = 0.95) -> list[SummaryRow]:
    """One row per prompt x model, sorted."""
    groups: dict[tuple[str, str], list[CaseOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[(o.prompt, o.model)].append(o)
    rows = []
    for (prompt, model), items in sorted(groups.items()):
        ok = [o for o in items if o.error is None]
        passed = sum(1 for o in ok if o.passed)
        per_case: dict[str, list[bool]] = defaultdict(list)
        for o in ok:
            per_case[o.case_id].append(o.passed)
        flaky = sum(1 for v in per_case.values() if len(v) > 1 and 0 < sum(v) < len(v))
        rate = passed / len(ok) if ok else None
        interval = stats.wilson_interval(passed, len(ok), confidence) if ok else None
        lat = stats.latency_percentiles([o.latency_ms for o in ok])
        total_cost = float(sum(o.cost_usd for o in items))
        rows.append(
            SummaryRow(
                prompt=prompt,
                model=model,
                results=len(items),
                cases=len({o.case_id for o in items}),
                passed=passed,
                failed=len(ok) - passed,
                errors=len(items) - len(ok),
                pass_rate=rate,
                pass_rate_interval=interval,
                mean_cost_usd=total_cost / len(items) if items else 0.0,
                total_cost_usd=total_cost,
                latency_p50_ms=lat["p50"],
                latency_p95_ms=lat["p95"],
                cached=sum(1 for o in items if o.cached),
                flaky=flaky,
            )
        )
    return rows


@dataclass
class ReportData:
    """Everything a report shows. `summary` defaults to `summary_rows(outcomes)`."""

    run: dict[str, Any]
    outcomes: list[CaseOutcome]
    verdict: Verdict | None = None
    summary: list[SummaryRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.summary:
            self.summary = summary_rows(self.outcomes)
        else:
            self.summary = [r if isinstance(r, SummaryRow) else SummaryRow.from_dict(r) for r in self.summary]

    @property
    def spend(self) -> Spend:
        """What the run spent (model + judge calls) and saved (cached results, at today's prices)."""
        return spend_of(self.outcomes)

    @property
    def title(self) -> str:
        name = self.run.get("evalset") or self.run.get("name") or ""
        run_id = self.run.get("id") or self.run.get("run_id") or ""
        parts = ["llmctl eval", str(name), f"run {run_id}" if run_id else ""]
        return " · ".join(p for p in parts if p)

    def meta(self) -> list[tuple[str, str]]:
        """(label, text) of what the report is about: evalset, run, commit, branch, baseline, start time."""
        from llmctl.reports._format import fmt_time

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
            ("started", fmt_time(run["started_at"]) if run.get("started_at") else run.get("started")),
        ]
        return [(label, str(value)) for label, value in items if value]

    @property
    def status_word(self) -> str:
        """PASS / FAIL from the verdict; without one, from the results (errors/failures)."""
        if self.verdict is not None:
            if self.verdict.passed and not self.verdict.checked:
                return "NOTHING CHECKED"
            return "PASS" if self.verdict.passed else "FAIL"
        return "NO GATE"
