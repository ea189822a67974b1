"""The gate compares quality and cost of batch results, not their latency (said in the gate table)."""

from __future__ import annotations

from llmctl.config import GateConfig
from llmctl.gate import compare
from tests.test_gate import metric, run


def test_batch_results_are_left_out_of_latency_but_not_cost() -> None:
    base = run([1] * 30, latency=100.0, cost=0.002)
    cand = run([1] * 30, latency=0.0, cost=0.001, batched=True)
    v = compare(base, cand, GateConfig(latency_p95_max_increase=0.2, cost_max_increase=0.1))
    p95 = metric(v, "latency_p95")
    assert p95.passed and p95.candidate is None
    assert "30 batch result(s) left out" in p95.note and "latency not compared" in p95.note
    cost = metric(v, "cost_per_case")
    assert cost.candidate < cost.baseline
    assert v.passed


def test_a_slower_batch_cannot_fail_the_latency_gate() -> None:
    base = run([1] * 30, latency=100.0)
    cand = run([1] * 30, latency=90_000.0, batched=True)
    assert compare(base, cand, GateConfig(latency_p95_max_increase=0.2)).passed
    assert not compare(base, run([1] * 30, latency=90_000.0), GateConfig(latency_p95_max_increase=0.2)).passed
