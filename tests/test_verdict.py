"""llmctl.verdict: the gate's records are built by keyword, round-trip through JSON, and combine."""

from __future__ import annotations

import pytest

from llmctl import gate, verdict
from llmctl.verdict import REPORT_ONLY, GroupVerdict, MetricVerdict, Verdict, combine_verdicts, shared_notes


def _metric(group: str, passed: bool = True) -> MetricVerdict:
    return MetricVerdict(
        group=group,
        metric="pass_rate",
        baseline=0.8,
        candidate=0.7,
        delta=-0.1,
        interval=(-0.2, 0.0),
        p_value=0.04,
        threshold="drop ≤ 5 pts",
        passed=passed,
    )


def _verdict(group: str, passed: bool, *, has_baseline: bool = True, notes: list[str] | None = None) -> Verdict:
    m = _metric(group, passed)
    g = GroupVerdict(prompt=group, model="echo", passed=passed, metrics=[m])
    return Verdict(
        passed=passed,
        groups=[g],
        metrics=[m],
        flipped=[],
        flaky=[],
        counts={"cases": 3, "errors": 1},
        confidence=0.9,
        has_baseline=has_baseline,
        notes=list(notes or []),
    )


def test_records_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        MetricVerdict("g", "pass_rate", None, None, None, None, None, REPORT_ONLY, True)  # type: ignore[misc]
    with pytest.raises(TypeError):
        GroupVerdict("p", "m", True)  # type: ignore[misc]


def test_the_gate_re_exports_the_vocabulary() -> None:
    for name in ("REPORT_ONLY", "MetricVerdict", "GroupVerdict", "Verdict", "FlippedCase", "FlakyCase", "group_name"):
        assert getattr(gate, name) is getattr(verdict, name)


def test_round_trip() -> None:
    v = _verdict("a", False)
    again = Verdict.from_dict(v.to_dict())
    assert again == v
    assert again.summary_line() == "gate FAILED: a: pass_rate"


def test_combine_verdicts() -> None:
    assert combine_verdicts([]) is None
    one = _verdict("a", True)
    assert combine_verdicts([one]) is one
    both = combine_verdicts([one, _verdict("b", False, has_baseline=False)])
    assert both is not None
    assert not both.passed and both.has_baseline
    assert [g.prompt for g in both.groups] == ["a", "b"] and [m.group for m in both.metrics] == ["a", "b"]
    assert both.counts == {"cases": 6, "errors": 2}
    assert both.confidence == 0.9


def test_with_evalset_and_shared_notes() -> None:
    named = verdict.with_evalset("qa", _verdict("a", True))
    assert [m.group for m in named.metrics] == ["qa: a"]
    assert shared_notes([("qa", ["x", "y"]), ("chat", ["x"])]) == ["x", "qa: y"]
    assert shared_notes([("qa", ["x"])]) == ["qa: x"]
