"""The gate: compare a candidate run with its baseline and decide pass or fail.

`compare(baseline, candidate, gate)` groups results by prompt x model and, for
each group, checks (README, "The gate"):

- Quality. The pass rate, paired by case: a regression is a drop that is both
  statistically significant (one-sided, at `gate.confidence`; exact McNemar, or
  the exact sign test on per-case means with `repeat > 1`) and larger than
  `gate.max_drop`. The same rule applies to each evaluator's pass rate and mean
  score, with a Bonferroni correction over those secondary metrics so that many
  evaluators do not inflate false alarms. Every quality metric reports its
  effect size (delta), a paired bootstrap interval (two-sided at
  `gate.confidence`) and its p-value. `gate.min_pass_rate` is an absolute floor
  on the candidate, applied with or without a baseline.
- Cost. Mean cost per case: fails when candidate > baseline x (1 + cost_max_increase).
- Latency. p50 (reported) and p95: fails when candidate p95 > baseline p95 x
  (1 + latency_p95_max_increase).
- Errors (CaseOutcome.error set) are never quality failures: they are left out of
  the comparison and counted; the runner decides whether they mean exit 3.

Cases are paired by case id (and repeat index for flipped cases); cases present on
one side only are counted and left out of the paired statistics.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from llmctl import fmt, stats
from llmctl.config import GateConfig
from llmctl.types import CaseOutcome

# The vocabulary lives in llmctl.verdict; re-exported so `from llmctl.gate import Verdict` keeps working.
from llmctl.verdict import (
    REPORT_ONLY,
    FlakyCase,
    FlippedCase,
    GroupVerdict,
    MetricVerdict,
    Verdict,
    flip_counts,
    flip_phrase,
    group_name,
)

__all__ = [
    "PASS_RATE_WEIGHT",
    "REPORT_ONLY",
    "FlakyCase",
    "FlippedCase",
    "GroupVerdict",
    "MetricVerdict",
    "Verdict",
    "apply_critical",
    "compare",
    "critical_metrics",
    "flip_counts",
    "flip_phrase",
    "group_name",
]


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


# --- data preparation ---------------------------------------------------------------------------


class _Side:
    """One run's results of one group, as arrays (error results already set aside)."""

    def __init__(self, outcomes: list[CaseOutcome], errors: int, cached: int) -> None:
        np = stats._np()
        self.outcomes = outcomes  # without errors
        self.errors = errors
        self.cached = cached
        self.batched = sum(1 for o in outcomes if o.batched)  # through a batch API: no call latency
        index: dict[str, int] = {}
        codes = [index.setdefault(o.case_id, len(index)) for o in outcomes]
        self.index = index
        self.case_ids: list[str] = list(index)
        self.codes = np.asarray(codes, dtype=np.int64)
        self.passed = np.asarray([o.passed for o in outcomes], dtype=bool)
        self.cost = np.asarray([o.cost_usd for o in outcomes], dtype=float)
        self.latency = np.asarray([o.latency_ms for o in outcomes], dtype=float)
        self.unbatched_latency = self.latency[np.asarray([not o.batched for o in outcomes], dtype=bool)]
        self._dicts: dict[str, list[dict[str, Any]]] = {
            "pass": [o.evaluator_passed for o in outcomes],
            "score": [o.scores for o in outcomes],
        }
        self._names = {kind: sorted(set().union(*ds)) for kind, ds in self._dicts.items()}
        n = len(self.case_ids)
        self.case_pass, self.samples = stats.aggregate_by_key(self.codes, self.passed, n)
        self.case_cost, _ = stats.aggregate_by_key(self.codes, self.cost, n)
        fresh = np.asarray([not o.cached and not o.batched for o in outcomes], dtype=bool)
        # per-case mean latency over fresh calls only (NaN: every result of the case was cached)
        self.case_fresh_latency, _ = stats.aggregate_by_key(self.codes[fresh], self.latency[fresh], n)

    @property
    def n_results(self) -> int:
        return len(self.outcomes)

    def evaluator_names(self) -> list[str]:
        return list(dict.fromkeys([*self._names["pass"], *self._names["score"]]))

    def evaluator_arrays(self, name: str, kind: str) -> tuple[Any, Any]:
        """Per-case mean of an evaluator's pass (kind="pass") or score (kind="score"), NaN where absent;
        and the raw values."""
        np = stats._np()
        nan = math.nan
        values = np.asarray([d.get(name, nan) for d in self._dicts[kind]], dtype=float)
        present = ~np.isnan(values)
        raw = values[present]
        means, _ = stats.aggregate_by_key(self.codes[present], raw, len(self.case_ids))
        return means, raw


def _split(outcomes: list[CaseOutcome]) -> _Side:
    # errors and results with no verdict (an unlabelled `human` alone) are set aside
    ok = [o for o in outcomes if o.error is None and not o.unscored]
    errors = sum(1 for o in outcomes if o.error is not None)
    return _Side(outcomes=ok, errors=errors, cached=sum(1 for o in outcomes if o.cached))


_group_key = attrgetter("prompt", "model")


def _group(outcomes: list[CaseOutcome] | None) -> dict[tuple[str, str], list[CaseOutcome]]:
    groups: dict[tuple[str, str], list[CaseOutcome]] = defaultdict(list)
    # runs of consecutive results of one group (stored runs come sorted by prompt, model)
    for key, run in itertools.groupby(outcomes or [], key=_group_key):
        groups[key].extend(run)
    return groups


def _pct(x: float) -> str:
    return fmt.pct(x)


def _pts(x: float) -> str:
    return fmt.pts(x, signed=False)


# --- the comparison --------------------------------------------------------------------------------


def compare(
    baseline: list[CaseOutcome] | None,
    candidate: list[CaseOutcome],
    gate: GateConfig,
    *,
    resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = stats.DEFAULT_SEED,
    detectable: bool = True,
) -> Verdict:
    """Gate `candidate` against `baseline` (None: no baseline, absolute floors only).

    `detectable=False` skips the minimum-detectable-effect notes (simulations that only want the decision)."""
    has_baseline = baseline is not None
    base_groups = _group(baseline)
    cand_groups = _group(candidate)
    groups: list[GroupVerdict] = []
    for key in sorted(cand_groups):
        base = base_groups.get(key) if has_baseline else None
        groups.append(
            _compare_group(key, base, cand_groups[key], gate, resamples=resamples, seed=seed, detectable=detectable)
        )
        apply_critical(groups[-1], base, cand_groups[key])
    notes: list[str] = []
    if not has_baseline:
        notes.append("No baseline: only absolute floors (min_pass_rate) were applied.")
    elif baseline is not None:
        missing = sorted(set(base_groups) - set(cand_groups))
        if missing:
            notes.append("In the baseline only (not compared): " + ", ".join(group_name(p, m) for p, m in missing))
    if not candidate:
        notes.append("The candidate run has no results.")
    unscored = sum(1 for o in candidate if o.unscored and o.error is None)
    if unscored:
        notes.append(
            f"{unscored} case(s) not yet labelled: unscored by the human evaluator, "
            "left out of the pass-rate checks (and of this comparison)"
        )
    for g in groups:  # what each group's comparison could see, and what it left out
        notes.extend(f"{g.name}: {n}" for n in g.notes if n != _NO_BASELINE_NOTE)
    counts: dict[str, int] = defaultdict(int)
    for g in groups:
        for name, value in g.counts.items():
            counts[name] += value
    counts["groups"] = len(groups)
    if unscored:
        counts["unscored"] = unscored
    return Verdict(
        passed=all(g.passed for g in groups),
        groups=groups,
        metrics=[m for g in groups for m in g.metrics],
        flipped=[f for g in groups for f in g.flipped],
        flaky=[f for g in groups for f in g.flaky],
        counts=dict(counts),
        confidence=gate.confidence,
        has_baseline=has_baseline,
        notes=notes,
    )


_NO_BASELINE_NOTE = "No baseline for this group: only absolute floors apply."


def _compare_group(
    key: tuple[str, str],
    base_outcomes: list[CaseOutcome] | None,
    cand_outcomes: list[CaseOutcome],
    gate: GateConfig,
    *,
    resamples: int,
    seed: int,
    detectable: bool = True,
) -> GroupVerdict:
    np = stats._np()
    prompt, model = key
    name = group_name(prompt, model)
    cand = _split(cand_outcomes)
    base = _split(base_outcomes) if base_outcomes is not None else None
    metrics: list[MetricVerdict] = []
    notes: list[str] = []
    counts = {
        "candidate_results": len(cand_outcomes),
        "candidate_errors": cand.errors,
        "candidate_cached": cand.cached,
        "candidate_cases": len(cand.case_ids),
    }
    flaky = _flaky(prompt, model, "candidate", cand, gate.confidence)
    alpha = 1.0 - gate.confidence

    # Absolute floor, with or without a baseline.
    n_cand_cases = len(cand.case_ids)
    cand_rate = float(np.nanmean(cand.case_pass)) if n_cand_cases else None
    if gate.min_pass_rate is not None:
        if cand_rate is None:
            metrics.append(
                MetricVerdict(
                    group=name,
                    metric="min_pass_rate",
                    baseline=None,
                    candidate=None,
                    delta=None,
                    interval=None,
                    p_value=None,
                    threshold=f"≥ {_pct(gate.min_pass_rate)}",
                    passed=False,
                    note="no candidate results without errors to check the floor on",
                )
            )
        else:
            lo, hi = stats.wilson_interval(cand_rate * n_cand_cases, n_cand_cases, gate.confidence)
            ok = cand_rate >= gate.min_pass_rate
            metrics.append(
                MetricVerdict(
                    group=name,
                    metric="min_pass_rate",
                    baseline=None,
                    candidate=cand_rate,
                    delta=None,
                    interval=(lo, hi),
                    p_value=None,
                    threshold=f"≥ {_pct(gate.min_pass_rate)}",
                    passed=ok,
                    note=f"candidate pass rate over {n_cand_cases} case(s) (Wilson interval)",
                )
            )

    flipped: list[FlippedCase] = []
    if base is None:
        if cand_rate is not None:
            lo, hi = stats.wilson_interval(cand_rate * n_cand_cases, n_cand_cases, gate.confidence)
            metrics.append(
                MetricVerdict(
                    group=name,
                    metric="pass_rate",
                    baseline=None,
                    candidate=cand_rate,
                    delta=None,
                    interval=(lo, hi),
                    p_value=None,
                    threshold=REPORT_ONLY,
                    passed=True,
                    note="no baseline (Wilson interval)",
                )
            )
        metrics.extend(_report_cost_latency(name, cand))
        notes.append(_NO_BASELINE_NOTE)
    else:
        counts.update(
            baseline_results=len(base_outcomes or []),
            baseline_errors=base.errors,
            baseline_cached=base.cached,
        )
        flaky += _flaky(prompt, model, "baseline", base, gate.confidence)
        # cand case code -> base case code (-1: not in the baseline)
        to_base = np.asarray([base.index.get(c, -1) for c in cand.case_ids], dtype=np.int64)
        ci = np.flatnonzero(to_base >= 0)
        bi = to_base[ci]
        common = ci.size
        counts["paired_cases"] = common
        only_cand = len(cand.case_ids) - common
        only_base = len(base.case_ids) - common
        if only_cand or only_base:
            notes.append(
                f"{only_cand} case(s) only in the candidate and {only_base} only in the baseline "
                "(errors included) are left out of the paired comparison."
            )
        qc, qb = ci, bi  # the paired cases of the quality comparison
        if gate.flaky == "ignore" and flaky and common:
            unstable = {f.case_id for f in flaky}
            keep = np.asarray([cand.case_ids[k] not in unstable for k in ci.tolist()], dtype=bool)
            qc, qb = ci[keep], bi[keep]
            notes.append(
                f"{common - int(keep.sum())} flaky case(s) left out of the quality comparison "
                "(gate.quality.flaky: ignore); cost and latency still count them."
            )
        checks: list[_Check] = []
        if common == 0:
            notes.append("No case has a result in both runs: nothing to compare.")
        else:
            if qc.size:
                checks.append(
                    _quality_check(
                        name, "pass_rate", base.case_pass[qb], cand.case_pass[qc], gate, resamples, seed, "midp", "rate"
                    )
                )
                checks.extend(_evaluator_checks(name, base, cand, qb, qc, gate, resamples, seed))
            else:
                notes.append("Every paired case is flaky: quality not compared (gate.quality.flaky: ignore).")
            checks.append(_cost_check(name, base.case_cost[bi], cand.case_cost[ci], gate, resamples, seed))
        checks.extend(_latency_checks(name, base, cand, ci, bi, gate, resamples, seed))
        _decide(checks, alpha)
        if detectable:
            notes.extend(_detectable(checks, base, cand, qb, qc, gate, alpha))
        metrics.extend(c.metric for c in checks)
        flipped = _flips(prompt, model, base, cand, to_base)
    if cand.errors or (base is not None and base.errors):
        metrics.append(
            MetricVerdict(
                group=name,
                metric="errors",
                baseline=float(base.errors) if base is not None else None,
                candidate=float(cand.errors),
                delta=None,
                interval=None,
                p_value=None,
                threshold=REPORT_ONLY,
                passed=True,
                note="results with an error are not quality failures; they are left out",
            )
        )
    if gate.flaky == "fail":
        metrics.extend(_flaky_check(name, cand, [f for f in flaky if f.run == "candidate"], notes))
    if cand.cached:
        notes.append(f"{cand.cached} candidate result(s) came from the cache (left out of the latency comparison).")
    counts["flipped_to_fail"] = sum(1 for f in flipped if f.direction == "pass->fail")
    counts["flipped_to_pass"] = sum(1 for f in flipped if f.direction == "fail->pass")
    counts["flaky"] = len(flaky)
    return GroupVerdict(
        prompt=prompt,
        model=model,
        passed=all(m.passed for m in metrics),
        metrics=metrics,
        flipped=flipped,
        flaky=flaky,
        counts=counts,
        notes=notes,
    )


@dataclass(kw_only=True)
class _Check:
    """A statistical check before the family decision: its row, p-value, weight, and whether
    its effect is beyond the threshold (a regression when also significant)."""

    metric: MetricVerdict
    p: float | None = None  # None: a report-only row, or nothing to test
    weight: float = 1.0
    exceeds: bool = False
    detail: str = ""
    discordant: int = 0  # quality: paired cases whose (mean) verdict differs between the runs


# The overall pass rate carries most of the family's error budget: it is the check a
# quality gate exists for, and it should keep nearly all its power when cost and latency
# are checked next to it (weighted Holm; benchmarks/gate_sim.py measures the result).
PASS_RATE_WEIGHT = 8.0


def _decide(checks: list[_Check], alpha: float) -> None:
    """Weighted Holm over the group's checks: a row fails when its check is rejected (the
    family-wise false-alarm rate stays at `1 - gate.confidence`) and its effect exceeds the threshold."""
    family = [c for c in checks if c.p is not None and c.metric.threshold != REPORT_ONLY]
    rejected = stats.holm([float(c.p or 0.0) for c in family], [c.weight for c in family], alpha) if family else []
    total = sum(c.weight for c in family)
    for c, rej in zip(family, rejected, strict=True):
        share = alpha * c.weight / total
        level = f"Holm over {len(family)} check(s), first-step level {fmt.number(share)}" if len(family) > 1 else ""
        if rej and c.exceeds:
            verdict = "significant and beyond the threshold"
        elif rej:
            verdict = "significant but within the threshold"
        elif c.exceeds:
            verdict = "beyond the threshold but not significant"
        else:
            verdict = ""
        c.metric.passed = not (rej and c.exceeds)
        c.metric.note = "; ".join(x for x in (verdict, c.detail, level) if x)
    for c in checks:
        if c not in family and not c.metric.note:
            c.metric.note = c.detail


def _quality_check(
    group: str,
    metric: str,
    base_vals: Any,
    cand_vals: Any,
    gate: GateConfig,
    resamples: int,
    seed: int,
    test: str,
    unit: str,
    weight: float = PASS_RATE_WEIGHT,
) -> _Check:
    result = stats.compare_paired(
        base_vals, cand_vals, confidence=gate.confidence, resamples=resamples, seed=seed, test=test
    )
    drop = -result.delta
    limit = _pts(gate.max_drop) if unit == "rate" else f"{gate.max_drop:g}"
    detail = f"{result.n_pairs} paired case(s); {result.worse} worse, {result.better} better; {result.method}"
    row = MetricVerdict(
        group=group,
        metric=metric,
        baseline=_num(result.baseline),
        candidate=_num(result.candidate),
        delta=_num(result.delta),
        interval=result.interval,
        p_value=result.p_worse,
        threshold=f"drop ≤ {limit}",
        passed=True,
    )
    return _Check(
        metric=row,
        p=result.p_worse,
        weight=weight,
        exceeds=drop > gate.max_drop,
        detail=detail,
        discordant=result.worse + result.better,
    )


def _detectable(
    checks: list[_Check], base: _Side, cand: _Side, bi: Any, ci: Any, gate: GateConfig, alpha: float
) -> list[str]:
    """What the pass-rate comparison can see: the drop it detects with 80% power, and a warning
    when `gate.quality.max_drop` is below it (smaller regressions would mostly pass unseen).

    The drop is `stats.min_detectable_drop`: the power of the mid-p McNemar (sign) test at the
    level the pass rate gets in the group's weighted Holm family (its first step, the strictest),
    for these n paired cases and samples per case, with the spread of case difficulty fitted to the
    share of cases on which the two runs disagreed (a real change among them makes it conservative).
    The result is stored on the pass-rate row (`mde`)."""
    np = stats._np()
    check = next((c for c in checks if c.metric.metric == "pass_rate"), None)
    base_rate = check.metric.baseline if check is not None else None
    if check is None or not ci.size or not base_rate:
        return []
    family = [c for c in checks if c.p is not None and c.metric.threshold != REPORT_ONLY]
    level = alpha * check.weight / (sum(c.weight for c in family) or check.weight)
    n = int(ci.size)
    repeats = max(1, int(np.median(np.minimum(base.samples[bi], cand.samples[ci]))))
    spread = stats.fit_spread(base_rate, check.discordant / n, repeats)
    disc = stats.discordance(spread, repeats)
    mde = stats.min_detectable_drop(n, disc, level)
    check.metric.mde = mde
    size = f"{n} paired case(s)" + (f" x {repeats} samples" if repeats > 1 else "")
    how = f"(mid-p McNemar at level {fmt.number(level)}; the runs disagreed on {check.discordant} case(s))"
    if mde is None:
        text = f"with {size} this gate cannot detect even a drop to a 0% pass rate with 80% power {how}"
    else:
        text = f"with {size} this gate detects a pass-rate drop of {_pts(mde)} with 80% power {how}"
    out = [text]
    if 0 < gate.max_drop and (mde is None or gate.max_drop < mde):
        advice = []
        needed = stats.cases_needed(gate.max_drop, disc, level) if gate.max_drop < base_rate else None
        if needed:
            advice.append(f"about {fmt.count(needed)} paired cases would see {_pts(gate.max_drop)}")
        if repeats < 3:
            mde3 = stats.min_detectable_drop(n, stats.discordance(spread, 3), level)
            if mde3 is not None and (mde is None or mde3 < 0.9 * mde):
                advice.append(f"--repeat 3 would see {_pts(mde3)}")
        out.append(
            f"warning: gate.quality.max_drop ({_pts(gate.max_drop)}) is below the smallest drop this suite "
            f"detects ({_pts(mde) if mde is not None else 'none'}): smaller regressions mostly pass unseen"
            + (f"; {', '.join(advice)}" if advice else "")
        )
    return out


def _evaluator_checks(
    group: str,
    base: _Side,
    cand: _Side,
    bi: Any,
    ci: Any,
    gate: GateConfig,
    resamples: int,
    seed: int,
) -> list[_Check]:
    np = stats._np()
    names = [n for n in cand.evaluator_names() if n in set(base.evaluator_names())]
    overall = (base.case_pass[bi], cand.case_pass[ci])
    out: list[_Check] = []
    for ev in names:
        bp, _ = base.evaluator_arrays(ev, "pass")
        cp, _ = cand.evaluator_arrays(ev, "pass")
        b, c = bp[bi], cp[ci]
        both = ~(np.isnan(b) | np.isnan(c))
        same_as_overall = both.all() and np.array_equal(b, overall[0]) and np.array_equal(c, overall[1])
        if both.any() and not same_as_overall:  # one evaluator: its pass rate IS the pass rate, one row
            out.append(
                _quality_check(
                    group, f"pass_rate[{ev}]", b[both], c[both], gate, resamples, seed, "midp", "rate", weight=1.0
                )
            )
        bs, braw = base.evaluator_arrays(ev, "score")
        cs, craw = cand.evaluator_arrays(ev, "score")
        binary = np.isin(braw, (0.0, 1.0)).all() and np.isin(craw, (0.0, 1.0)).all()
        b, c = bs[bi], cs[ci]
        both = ~(np.isnan(b) | np.isnan(c))
        if both.any() and not binary:
            out.append(
                _quality_check(
                    group, f"mean_score[{ev}]", b[both], c[both], gate, resamples, seed, "bootstrap", "score", 1.0
                )
            )
    return out


def _ratio_row(group: str, metric: str, r: stats.RatioResult) -> MetricVerdict:
    """A cost or latency row: both values, the relative change and its interval (a difference
    when the baseline is zero and a relative change has no meaning)."""
    b, c = r.baseline, r.candidate
    if b > 0 and math.isfinite(r.change):
        iv = r.interval if all(math.isfinite(x) for x in r.interval) else None
        return MetricVerdict(
            group=group,
            metric=metric,
            baseline=b,
            candidate=c,
            delta=r.change,
            interval=iv,
            p_value=r.p_increase,
            threshold=REPORT_ONLY,
            passed=True,
            relative=True,
        )
    return MetricVerdict(
        group=group,
        metric=metric,
        baseline=b,
        candidate=c,
        delta=c - b,
        interval=None,
        p_value=r.p_increase,
        threshold=REPORT_ONLY,
        passed=True,
    )


def _relative(r: stats.RatioResult) -> str:
    return f"{fmt.change(r.change)} {fmt.interval(r.interval, fmt.change)}"


def _cost_check(group: str, base_cost: Any, cand_cost: Any, gate: GateConfig, resamples: int, seed: int) -> _Check:
    """Mean cost per case: a paired bootstrap over cases of the relative change. Cached
    results count at today's price (cost is tokens x price; cached tokens are a sample
    like any other), so a price change is seen without a call."""
    r = stats.paired_ratio_bootstrap(
        base_cost, cand_cost, statistic="mean", confidence=gate.confidence, resamples=resamples, seed=seed
    )
    b, c = r.baseline, r.candidate
    limit = gate.cost_max_increase
    row = _ratio_row(group, "cost_per_case", r)
    if b == 0 and c == 0:
        return _Check(metric=row, p=None, detail="no cost recorded in either run")
    change = _relative(r) if b > 0 else "from zero"
    diff = fmt.usd_per_case(c - b, signed=True)
    detail = f"mean cost per case (USD), {change} ({diff} per case), paired bootstrap over {r.n} case(s)"
    if limit is None:
        return _Check(metric=row, p=r.p_increase, detail=detail)
    row.threshold = f"≤ +{limit * 100:g}%" + (f" or < +${gate.cost_min_usd:g}" if gate.cost_min_usd else "")
    exceeds = (c - b) > 0 and (b == 0 or r.change > limit) and (c - b) >= gate.cost_min_usd
    return _Check(metric=row, p=r.p_increase, exceeds=exceeds, detail=detail)


def _report_cost_latency(group: str, side: _Side) -> list[MetricVerdict]:
    np = stats._np()
    out = []
    if len(side.case_ids):
        out.append(
            MetricVerdict(
                group=group,
                metric="cost_per_case",
                baseline=None,
                candidate=float(np.nanmean(side.case_cost)),
                delta=None,
                interval=None,
                p_value=None,
                threshold=REPORT_ONLY,
                passed=True,
                note="mean cost per case (USD)",
            )
        )
    pct = stats.latency_percentiles(side.unbatched_latency)
    for q in ("p50", "p95"):
        if pct[q] is not None:
            out.append(
                MetricVerdict(
                    group=group,
                    metric=f"latency_{q}",
                    baseline=None,
                    candidate=pct[q],
                    delta=None,
                    interval=None,
                    p_value=None,
                    threshold=REPORT_ONLY,
                    passed=True,
                    note=f"ms; {side.cached} cached result(s) use their recorded latency"
                    + (f"; {side.batched} batch result(s) have no call latency" if side.batched else ""),
                )
            )
    return out


def _batch_note(base: _Side, cand: _Side) -> str:
    """What the latency rows say of results answered through a batch API (left out of latency)."""
    n = base.batched + cand.batched
    if not n:
        return ""
    return f"; {n} batch result(s) left out: a batch API's turnaround is not a call's latency (cost, quality compared)"


def _latency_checks(
    group: str, base: _Side, cand: _Side, ci: Any, bi: Any, gate: GateConfig, resamples: int, seed: int
) -> list[_Check]:
    """p50 (reported) and p95 latency of paired cases with fresh calls on both sides.

    Cached results never enter (their latency is from another day); each case counts once
    (its mean over fresh repeats). The relative change gets a paired bootstrap interval
    over cases; p95 fails only when the increase is significant, above
    `p95_max_increase` and at least `min_ms` milliseconds.
    """
    np = stats._np()
    if not ci.size:
        return []
    b_all, c_all = base.case_fresh_latency[bi], cand.case_fresh_latency[ci]
    both = ~(np.isnan(b_all) | np.isnan(c_all))
    b_lat, c_lat = b_all[both], c_all[both]
    n = int(b_lat.size)
    fresh_note = f"ms over {n} paired case(s) with fresh calls on both sides (cached results left out)"
    batch_note = _batch_note(base, cand)
    fresh_note += batch_note
    limit = gate.latency_p95_max_increase
    if n < max(1, gate.latency_min_fresh):
        if n == 0 and limit is None:
            return []
        row = MetricVerdict(
            group=group,
            metric="latency_p95",
            baseline=None,
            candidate=None,
            delta=None,
            interval=None,
            p_value=None,
            threshold=REPORT_ONLY if limit is None else f"≤ +{limit * 100:g}% or < +{gate.latency_min_ms:g} ms",
            passed=True,
        )
        return [
            _Check(
                metric=row,
                p=None,
                detail=f"not enough fresh results: {n} paired case(s) with uncached calls on both sides, "
                f"{gate.latency_min_fresh} needed; latency not compared{batch_note}",
            )
        ]
    out = []
    for q in ("p50", "p95"):
        r = stats.paired_ratio_bootstrap(
            b_lat, c_lat, statistic=q, confidence=gate.confidence, resamples=resamples, seed=seed
        )
        b, c = r.baseline, r.candidate
        row = _ratio_row(group, f"latency_{q}", r)
        detail = f"{_relative(r)}, {fmt.ms(c - b, signed=True)} ({fresh_note})" if b > 0 else fresh_note
        if q == "p50" or limit is None:
            out.append(_Check(metric=row, p=None, detail=detail))
            continue
        row.threshold = f"≤ +{limit * 100:g}% or < +{gate.latency_min_ms:g} ms"
        exceeds = r.change > limit and (c - b) >= gate.latency_min_ms
        out.append(_Check(metric=row, p=r.p_increase, exceeds=exceeds, detail=detail))
    return out


def _flips(prompt: str, model: str, base: _Side, cand: _Side, to_base: Any) -> list[FlippedCase]:
    """Results whose verdict differs from the baseline's, paired by (case id, repeat index)."""
    np = stats._np()
    if base.n_results and cand.n_results and int(base.samples.max()) == 1 and int(cand.samples.max()) == 1:
        # one sample per case on both sides: pair through the case codes (no per-result lookups)
        result_of_case = np.full(len(base.case_ids), -1, dtype=np.int64)
        result_of_case[base.codes] = np.arange(base.n_results)
        bcase = to_base[cand.codes]
        match = np.where(bcase >= 0, result_of_case[np.maximum(bcase, 0)], -1)
        same_repeat = np.asarray(
            [
                cand.outcomes[k].repeat_index == base.outcomes[m].repeat_index if m >= 0 else True
                for k, m in enumerate(match.tolist())
            ]
            if _mixed_repeats(base, cand)
            else [True] * len(match),
            dtype=bool,
        )
        match = np.where(same_repeat, match, -1)
    else:
        base_by_key = {(o.case_id, o.repeat_index): i for i, o in enumerate(base.outcomes)}
        match = np.asarray([base_by_key.get((o.case_id, o.repeat_index), -1) for o in cand.outcomes], dtype=np.int64)
    paired = match >= 0
    differs = np.zeros(len(cand.outcomes), dtype=bool)
    differs[paired] = base.passed[match[paired]] != cand.passed[paired]
    flipped = []
    for k in np.flatnonzero(differs).tolist():
        o = cand.outcomes[k]
        b = base.outcomes[int(match[k])]
        flipped.append(
            FlippedCase(
                prompt=prompt,
                model=model,
                case_id=o.case_id,
                baseline_output=b.shown_output,
                candidate_output=o.shown_output,
                baseline_reasons=_failing_reasons(b),
                candidate_reasons=_failing_reasons(o),
                direction="pass->fail" if b.passed else "fail->pass",
                repeat_index=o.repeat_index,
            )
        )
    flipped.sort(key=lambda f: (f.direction != "pass->fail", f.case_id, f.repeat_index))
    return flipped


def _mixed_repeats(base: _Side, cand: _Side) -> bool:
    """Whether any result has a repeat index other than 0 (then pairs must match on it too)."""
    return any(o.repeat_index for o in base.outcomes) or any(o.repeat_index for o in cand.outcomes)


def _failing_reasons(o: CaseOutcome) -> dict[str, str]:
    """Reasons of the evaluators that failed (all reasons when none is marked failed)."""
    failed = {k: v for k, v in o.reasons.items() if not o.evaluator_passed.get(k, True)}
    return failed or dict(o.reasons)


def _flaky(prompt: str, model: str, run: str, side: _Side, confidence: float) -> list[FlakyCase]:
    """Cases whose samples (repeat > 1) got different verdicts, with their pass rate's Wilson interval."""
    np = stats._np()
    if not side.n_results or int(side.samples.max()) <= 1:
        return []
    rate = side.case_pass
    mask = (side.samples > 1) & (rate > 0) & (rate < 1)
    out = []
    for k in np.flatnonzero(mask).tolist():
        n = int(side.samples[k])
        passes = round(float(rate[k]) * n)
        interval = stats.wilson_interval(passes, n, confidence)
        out.append(
            FlakyCase(
                prompt=prompt,
                model=model,
                case_id=side.case_ids[k],
                run=run,
                passes=passes,
                samples=n,
                interval=interval,
            )
        )
    return out


def _flaky_check(group: str, side: _Side, flaky: list[FlakyCase], notes: list[str]) -> list[MetricVerdict]:
    """`gate.quality.flaky: fail`: a row that fails when any candidate case is flaky."""
    if not side.n_results or int(side.samples.max()) <= 1:
        notes.append(
            "gate.quality.flaky is fail, but with one sample per case no case can be seen to be flaky "
            "(use --repeat 2 or more)."
        )
        return []
    ids = [f.case_id for f in flaky]
    note = f"{len(ids)} of {len(side.case_ids)} candidate case(s) gave different verdicts across their samples"
    count = float(len(ids))
    return [
        MetricVerdict(
            group=group,
            metric="flaky_cases",
            baseline=None,
            candidate=count,
            delta=None,
            interval=None,
            p_value=None,
            threshold="no flaky case",
            passed=not ids,
            note=note,
            cases=ids,
        )
    ]


# --- critical checks (README, "Safety") ---------------------------------------------------------


def _critical_failures(outcomes: list[CaseOutcome] | None) -> tuple[dict[str, list[CaseOutcome]], dict[str, int]]:
    """Per `severity: critical` evaluator: the results it failed (an evaluator error is a failure) and how many
    it checked. Results with a call error have no output to check and are left out."""
    failing: dict[str, list[CaseOutcome]] = defaultdict(list)
    checked: dict[str, int] = defaultdict(int)
    for o in outcomes or []:
        if o.error is not None:
            continue
        for name in o.critical:
            checked[name] += 1
            if not o.evaluator_passed.get(name, False):
                failing[name].append(o)
    return failing, checked


def critical_metrics(
    group: str, baseline: list[CaseOutcome] | None, candidate: list[CaseOutcome]
) -> list[MetricVerdict]:
    """One verdict per critical evaluator: it fails on a single failing case, whatever the statistics say.

    The verdict names the failing cases (`cases`, and in `note` with the first reason)."""
    failing, checked = _critical_failures(candidate)
    base_failing, base_checked = _critical_failures(baseline)
    out = []
    for name in sorted(checked):
        fails = failing.get(name, [])
        ids = list(dict.fromkeys(o.case_id for o in fails))
        if fails:
            first = fails[0]
            note = (
                f"{len(fails)} of {checked[name]} result(s) failed a critical check; "
                f"{first.case_id}: {first.reasons.get(name, '')}"
            )
        else:
            note = f"all {checked[name]} result(s) passed"
        base_value = float(len(base_failing.get(name, []))) if base_checked.get(name) else None
        out.append(
            MetricVerdict(
                group=group,
                metric=f"critical[{name}]",
                baseline=base_value,
                candidate=float(len(fails)),
                delta=None,
                interval=None,
                p_value=None,
                threshold="no failing case",
                passed=not fails,
                note=note,
                cases=ids,
            )
        )
    return out


def apply_critical(verdict: GroupVerdict, baseline: list[CaseOutcome] | None, candidate: list[CaseOutcome]) -> None:
    """Add the critical checks of one group to its verdict (a failing one fails the group)."""
    metrics = critical_metrics(verdict.name, baseline, candidate)
    if metrics:
        verdict.metrics.extend(metrics)
        verdict.passed = verdict.passed and all(m.passed for m in metrics)
