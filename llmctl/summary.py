"""The run summary: computed once when a run finishes, stored in `runs.summary`, and read by
every screen (the terminal, `runs show`, Markdown, HTML, JSON, the PR comment).

Per prompt x model (`GroupSummary`):

- `n` results (cases x samples, errors included), `cases`, `passed`, `failed`, `errors`,
  `unscored` (results with no verdict: every evaluator an unlabelled `human`; neither passed nor
  failed, and set aside like errors by every figure below);
- `pass_rate` over the results without errors that have a verdict (None when there are none), with
  its Wilson interval `pass_rate_ci`;
- `cost_usd_mean`: the mean cost per case of the results without errors, at today's prices
  (cached results included): the figure the gate's `cost_per_case` row compares;
  `cost_usd_total`: those results' cost. What a run *spent* (errors that used tokens
  included) is `spent_usd` / `judge_usd`, and what cached results saved is `saved_usd`
  (llmctl.spend);
- `latency_p50` / `latency_p95` (ms) of the results without errors (those answered through a batch
  API left out: they have no call latency), `cached`, `flaky` (cases whose samples disagree),
  mean `scores` per evaluator.

The stored JSON (`RunSummary.to_dict`) keeps the keys of earlier versions; `from_dict`
reads a summary stored before a key existed (that figure then shows as missing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from llmctl import stats
from llmctl.spend import Spend, spend_of
from llmctl.types import CaseOutcome
from llmctl.verdict import Verdict, group_name


@dataclass
class GroupSummary:
    """One prompt x model of a run (see the module docstring for what each figure counts)."""

    prompt: str
    model: str
    version_hash: str | None = None
    n: int = 0
    cases: int | None = None
    passed: int = 0
    failed: int | None = None
    errors: int = 0
    pass_rate: float | None = None
    pass_rate_ci: tuple[float, float] | None = None
    scores: dict[str, float] = field(default_factory=dict)
    cost_usd_total: float = 0.0
    cost_usd_mean: float | None = None
    latency_p50: float | None = None
    latency_p95: float | None = None
    cached: int = 0
    flaky: int | None = None
    spent_usd: float | None = None
    judge_usd: float | None = None
    saved_usd: float | None = None
    unscored: int = 0
    evalset: str | None = None  # named where the runs of several evalsets are shown together

    @property
    def name(self) -> str:
        return group_name(self.prompt, self.model)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["pass_rate_ci"] = list(self.pass_rate_ci) if self.pass_rate_ci is not None else None
        data["scores"] = dict(self.scores)
        if self.evalset is None:
            del data["evalset"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupSummary:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        ci = values.get("pass_rate_ci")
        values["pass_rate_ci"] = (float(ci[0]), float(ci[1])) if ci else None
        values["scores"] = dict(values.get("scores") or {})
        group = cls(**values)
        ok = group.n - group.errors - group.unscored
        if ok <= 0:  # stored before "no result without error" was None, as 0.0 and [0, 0]
            group.pass_rate, group.pass_rate_ci = None, None
            if group.cost_usd_mean == 0:
                group.cost_usd_mean = None
        if group.failed is None:
            group.failed = max(ok - group.passed, 0)
        return group


@dataclass
class RunSummary:
    """A run's groups, what it spent, and (for a gated run) the verdict."""

    groups: list[GroupSummary] = field(default_factory=list)
    spend: Spend = field(default_factory=Spend)
    verdict: Verdict | None = None

    @property
    def errors(self) -> int:
        return sum(g.errors for g in self.groups)

    @property
    def gate_passed(self) -> bool | None:
        return None if self.verdict is None else bool(self.verdict.passed)

    def to_dict(self) -> dict[str, Any]:
        """The `runs.summary` JSON: `groups`, `errors`, `spend`, and `gate_passed` / `verdict` when gated."""
        data: dict[str, Any] = {
            "groups": [g.to_dict() for g in self.groups],
            "errors": self.errors,
            "spend": self.spend.to_dict(),
        }
        if self.verdict is not None:
            data["gate_passed"] = bool(self.verdict.passed)
            data["verdict"] = self.verdict.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunSummary:
        data = data or {}
        spend = data.get("spend")
        verdict = data.get("verdict")
        return cls(
            groups=[GroupSummary.from_dict(g) for g in data.get("groups") or []],
            spend=Spend.from_dict(spend) if isinstance(spend, dict) else Spend(),
            verdict=Verdict.from_dict(verdict) if isinstance(verdict, dict) else None,
        )

    @classmethod
    def combine(cls, summaries: Iterable[tuple[str, RunSummary]]) -> RunSummary:
        """The summaries of one invocation's runs (evalset, summary) as one: every group
        named with its evalset, the spend added up (the verdicts are combined elsewhere)."""
        groups: list[GroupSummary] = []
        spend = Spend()
        for evalset, s in summaries:
            groups += [replace(g, evalset=evalset) for g in s.groups]
            spend = spend.plus(s.spend)
        return cls(groups=groups, spend=spend)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def summarize_group(prompt: str, model: str, items: list[CaseOutcome], confidence: float = 0.95) -> GroupSummary:
    ok = [o for o in items if o.error is None and not o.unscored]
    passed = sum(1 for o in ok if o.passed)
    per_case_pass: dict[str, list[bool]] = defaultdict(list)
    per_case_cost: dict[str, list[float]] = defaultdict(list)
    scores: dict[str, list[float]] = defaultdict(list)
    for o in ok:
        per_case_pass[o.case_id].append(bool(o.passed))
        per_case_cost[o.case_id].append(float(o.cost_usd))
        for name, value in o.scores.items():
            if value is not None:
                scores[name].append(float(value))
    lat = stats.latency_percentiles([o.latency_ms for o in ok if not o.batched])  # a batch has no call latency
    spend = spend_of(items)
    return GroupSummary(
        prompt=prompt,
        model=model,
        version_hash=items[0].version_hash if items else None,
        n=len(items),
        cases=len({o.case_id for o in items}),
        passed=passed,
        failed=len(ok) - passed,
        errors=sum(1 for o in items if o.error is not None),
        unscored=sum(1 for o in items if o.unscored and o.error is None),
        pass_rate=passed / len(ok) if ok else None,
        pass_rate_ci=stats.wilson_interval(passed, len(ok), confidence) if ok else None,
        scores={k: _mean(v) for k, v in sorted(scores.items())},
        cost_usd_total=float(sum(o.cost_usd for o in ok)),
        # per case first (its samples' mean), then over cases: the gate's cost per case
        cost_usd_mean=_mean([_mean(v) for v in per_case_cost.values()]) if ok else None,
        latency_p50=lat["p50"],
        latency_p95=lat["p95"],
        cached=sum(1 for o in items if o.cached),
        flaky=sum(1 for v in per_case_pass.values() if len(v) > 1 and 0 < sum(v) < len(v)),
        spent_usd=spend.model_usd,
        judge_usd=spend.judge_usd,
        saved_usd=spend.saved_usd,
    )


def summarize(outcomes: list[CaseOutcome], verdict: Verdict | None = None, confidence: float = 0.95) -> RunSummary:
    """The summary of a run's results (one group per prompt x model, sorted) and its verdict."""
    groups: dict[tuple[str, str], list[CaseOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[(o.prompt, o.model)].append(o)
    rows = [summarize_group(p, m, items, confidence) for (p, m), items in sorted(groups.items())]
    return RunSummary(groups=rows, spend=spend_of(outcomes), verdict=verdict)


@dataclass(frozen=True)
class FailingCase:
    """A case with at least one sample that ran and failed its evaluators (errors are not failures):
    how many of its samples failed, and the reasons of its first failing sample."""

    prompt: str
    model: str
    case_id: str
    failed: int
    samples: int
    reasons: dict[str, str] = field(default_factory=dict)  # failing evaluator -> its reason
    run_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def failing_cases(outcomes: Iterable[CaseOutcome], run_id: str = "") -> list[FailingCase]:
    """The cases that failed (by prompt x model x case, samples counted together), in result order."""
    by_case: dict[tuple[str, str, str], list[CaseOutcome]] = {}
    for o in outcomes:
        if o.error is None and not o.unscored:
            by_case.setdefault((o.prompt, o.model, o.case_id), []).append(o)
    out = []
    for (prompt, model, case_id), items in by_case.items():
        bad = [o for o in items if not o.passed]
        if not bad:
            continue
        first = bad[0]
        reasons = {k: first.reasons.get(k, "") for k, ok in first.evaluator_passed.items() if not ok}
        out.append(FailingCase(prompt, model, case_id, len(bad), len(items), reasons, run_id))
    return out


def unlabelled_line(summary: RunSummary) -> str | None:
    """The line saying how many results have no verdict (an unlabelled `human`), or None."""
    n = sum(g.unscored for g in summary.groups)
    if not n:
        return None
    return (
        f"{n} case(s) not yet labelled: unscored by the human evaluator, left out of the pass rate "
        "(label them with llmctl review or llmctl view)"
    )


def see_all_failing(run_ids: Iterable[str]) -> str:
    """The commands that list every failing case of these runs: `runs show --failed` and the viewer's page."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return "llmctl view"
    shown = "; ".join(f"llmctl runs show {r} --failed" for r in ids[:3])
    return f"{shown}; or llmctl view and open /runs/{ids[0]}?filter=failed"
