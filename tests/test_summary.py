"""llmctl.summary: the one run summary, what each figure counts, and its stored JSON."""

from __future__ import annotations

import pytest

from llmctl.config import GateConfig
from llmctl.gate import compare
from llmctl.summary import GroupSummary, RunSummary, summarize
from llmctl.types import CaseOutcome


def _o(case_id: str, passed: bool, cost: float, **kw: object) -> CaseOutcome:
    return CaseOutcome(
        prompt=str(kw.pop("prompt", "p")),
        model="m",
        case_id=case_id,
        passed=passed,
        cost_usd=cost,
        latency_ms=float(kw.pop("latency_ms", 100.0)),  # type: ignore[arg-type]
        version_hash="sha256:abc",
        scores={"contains": float(passed)},
        **kw,  # type: ignore[arg-type]
    )


def _run() -> list[CaseOutcome]:
    return [
        _o("a", True, 0.002, repeat_index=0),
        _o("a", False, 0.004, repeat_index=1),  # flaky: its samples disagree
        _o("b", True, 0.003, cached=True),
        _o("c", False, 0.003, latency_ms=300.0),
        _o("d", False, 0.001, error="ProviderError: 500"),  # spent tokens, then failed
        _o("e", False, 0.0, error="ProviderError: 500"),
    ]


def test_a_group_counts_errors_apart_and_means_cost_over_results_with_an_output() -> None:
    (g,) = summarize(_run()).groups
    assert (g.n, g.cases, g.passed, g.failed, g.errors, g.cached, g.flaky) == (6, 5, 2, 2, 2, 1, 1)
    assert g.pass_rate == pytest.approx(2 / 4)  # over the 4 results without errors
    assert g.pass_rate_ci is not None and g.pass_rate_ci[0] < 0.5 < g.pass_rate_ci[1]
    # per case first (a: 0.003, b: 0.003, c: 0.003), then over cases; errors left out
    assert g.cost_usd_mean == pytest.approx(0.003)
    assert g.cost_usd_total == pytest.approx(0.012)
    # what was spent includes the error that used tokens; the cached result was saved, not spent
    assert g.spent_usd == pytest.approx(0.002 + 0.004 + 0.003 + 0.001)
    assert g.saved_usd == pytest.approx(0.003)
    assert g.scores == {"contains": pytest.approx(0.5)}


def test_summary_agrees_with_the_gate_rows() -> None:
    """The summary's mean cost and latency are the gate's report-only rows, errors or not."""
    outcomes = _run()[2:]  # no repeats: the gate's per-case means are plain means
    (g,) = summarize(outcomes).groups
    rows = {m.metric: m for m in compare(None, outcomes, GateConfig()).metrics}
    assert rows["cost_per_case"].candidate == pytest.approx(g.cost_usd_mean)
    assert rows["latency_p50"].candidate == pytest.approx(g.latency_p50)
    assert rows["latency_p95"].candidate == pytest.approx(g.latency_p95)


def test_every_result_an_error_has_no_rate_and_no_mean() -> None:
    (g,) = summarize([_o("x", False, 0.0, error="boom")]).groups
    assert g.pass_rate is None and g.pass_rate_ci is None and g.cost_usd_mean is None and g.latency_p95 is None


def test_stored_json_keeps_its_keys_and_round_trips() -> None:
    verdict = compare(None, _run(), GateConfig(min_pass_rate=0.9))
    summary = summarize(_run(), verdict)
    data = summary.to_dict()
    assert set(data) == {"groups", "errors", "spend", "gate_passed", "verdict"}
    assert data["errors"] == 2 and data["gate_passed"] is False
    old_keys = {"prompt", "model", "version_hash", "n", "passed", "pass_rate", "pass_rate_ci", "scores"}
    old_keys |= {"cost_usd_total", "cost_usd_mean", "latency_p50", "latency_p95", "cached", "errors"}
    old_keys |= {"spent_usd", "judge_usd", "saved_usd"}
    assert old_keys <= set(data["groups"][0])  # what earlier versions stored (versions.py reads them)
    back = RunSummary.from_dict(data)
    assert back.groups == summary.groups and back.spend == summary.spend
    assert back.verdict is not None and back.verdict.to_dict() == verdict.to_dict()


def test_a_summary_stored_by_an_earlier_version_reads() -> None:
    """Before `cases`, `failed`, `flaky`; with 0.0 for "no result without error"."""
    old = {
        "groups": [
            {"prompt": "p", "model": "m", "n": 4, "passed": 3, "pass_rate": 1.0, "pass_rate_ci": [0.4, 1.0]},
            {"prompt": "q", "model": "m", "n": 2, "errors": 2, "passed": 0, "pass_rate": 0.0, "pass_rate_ci": [0, 0]},
        ],
        "errors": 2,
    }
    p, q = RunSummary.from_dict(old).groups
    assert (p.failed, p.cases, p.flaky, p.spent_usd) == (1, None, None, None)
    assert q.pass_rate is None and q.pass_rate_ci is None
    assert RunSummary.from_dict(None).groups == []


def test_combined_runs_name_their_evalset() -> None:
    one = summarize([_o("a", True, 0.001)])
    two = summarize([_o("a", False, 0.002, prompt="q")])
    both = RunSummary.combine([("qa", one), ("extract", two)])
    assert [(g.evalset, g.prompt) for g in both.groups] == [("qa", "p"), ("extract", "q")]
    assert both.spend.model_usd == pytest.approx(0.003)
    assert "evalset" not in one.groups[0].to_dict()  # a single run's stored groups carry none
    assert GroupSummary.from_dict(both.groups[1].to_dict()).evalset == "extract"


def test_failing_cases_count_cases_not_samples() -> None:
    """A case with three samples, two failing, is one failing case (2/3); errors are not failures."""
    from llmctl.summary import failing_cases

    items = [
        CaseOutcome(
            "p", "m", "a", 0, passed=False, reasons={"contains": "no refund"}, evaluator_passed={"contains": False}
        ),
        CaseOutcome("p", "m", "a", 1, passed=True, evaluator_passed={"contains": True}),
        CaseOutcome("p", "m", "a", 2, passed=False, reasons={"contains": "x"}, evaluator_passed={"contains": False}),
        CaseOutcome("p", "m", "b", 0, passed=True, evaluator_passed={"contains": True}),
        CaseOutcome("p", "m", "c", 0, passed=False, error="RateLimitError"),
    ]
    failing = failing_cases(items, "r1")
    assert [(f.case_id, f.failed, f.samples, f.reasons, f.run_id) for f in failing] == [
        ("a", 2, 3, {"contains": "no refund"}, "r1")
    ]
