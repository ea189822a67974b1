"""The gate's critical checks: one failing case of a `severity: critical` evaluator fails the gate."""

from __future__ import annotations

from llmctl.config import GateConfig
from llmctl.gate import Verdict, compare, critical_metrics
from llmctl.types import CaseOutcome


def outcomes(failing: set[str], n: int = 30, *, critical: bool = True, error_on: str = "") -> list[CaseOutcome]:
    out = []
    for i in range(n):
        cid = f"c{i:02d}"
        ok = cid not in failing
        out.append(
            CaseOutcome(
                "p",
                "m",
                cid,
                passed=ok,
                error="boom" if cid == error_on else None,
                evaluator_passed={"pii": ok, "contains": True},
                scores={"pii": float(ok), "contains": 1.0},
                reasons={
                    "pii": "no personal data found" if ok else "found 1 personal data item(s): email a***@e***.com"
                },
                critical=["pii"] if critical else [],
            )
        )
    return out


def test_one_critical_failure_fails_the_gate_and_names_the_case() -> None:
    gate = GateConfig(min_pass_rate=0.9, max_drop=0.05)
    verdict = compare(outcomes(set()), outcomes({"c07"}), gate)
    assert not verdict.passed
    assert [m.metric for m in verdict.failures] == ["critical[pii]"]  # the statistics pass on their own
    failure = verdict.failures[0]
    assert failure.cases == ["c07"] and failure.candidate == 1 and failure.baseline == 0
    assert "c07: found 1 personal data item(s)" in failure.note
    assert "critical[pii] (case c07)" in verdict.summary_line()


def test_critical_fails_without_a_baseline_too() -> None:
    verdict = compare(None, outcomes({"c01", "c02"}), GateConfig())
    assert not verdict.passed and verdict.failures[0].cases == ["c01", "c02"]


def test_a_passing_critical_check_is_reported_as_checked() -> None:
    verdict = compare(None, outcomes(set()), GateConfig())
    assert verdict.passed
    (m,) = [m for m in verdict.metrics if m.metric == "critical[pii]"]
    assert m.passed and m.threshold == "no failing case" and "all 30 result(s) passed" in m.note


def test_not_critical_means_no_critical_metric() -> None:
    verdict = compare(None, outcomes({"c01"}, critical=False), GateConfig(min_pass_rate=0.9))
    assert verdict.passed and not [m for m in verdict.metrics if m.metric.startswith("critical")]


def test_results_with_a_call_error_are_left_out() -> None:
    (m,) = critical_metrics("g", None, outcomes({"c03"}, error_on="c03"))
    assert m.passed and "all 29 result(s)" in m.note


def test_many_failing_cases_are_summarised_and_survive_a_round_trip() -> None:
    verdict = compare(None, outcomes({f"c{i:02d}" for i in range(8)}), GateConfig())
    assert "(case c00, c01, c02, c03, c04 and 3 more)" in verdict.summary_line()
    again = Verdict.from_dict(verdict.to_dict())
    assert again.failures[0].cases == verdict.failures[0].cases and not again.passed
