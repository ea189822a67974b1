"""Gate simulation: how often the quality gate fails on simulated pull requests.

Used by the tests and benchmarks that measure the gate's false-positive rate and power
(tests/test_gate.py, benchmarks/gate_sim.py); not part of any command, so it lives
beside the other test helpers rather than in `llmctl.stats`.
"""

from __future__ import annotations

import functools

import numpy as np

from llmctl.config import GateConfig
from llmctl.gate import compare
from llmctl.types import CaseOutcome


def _logistic(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


@functools.lru_cache(maxsize=1)
def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return nodes, weights / weights.sum()


def _mean_pass_rate(mu: float, sd: float) -> float:
    """E[logistic(mu + sd * Z)], Z ~ N(0, 1), by Gauss-Hermite quadrature."""
    nodes, weights = _quadrature()
    return float((weights * _logistic(mu + sd * nodes)).sum())


def _solve_mu(target: float, sd: float) -> float:
    """The logit-scale location whose mean pass rate is `target` (bisection)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"pass rate must be strictly between 0 and 1, got {target}")
    lo, hi = -30.0, 30.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if _mean_pass_rate(mid, sd) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def simulate_gate(
    n_prs: int = 1000,
    n_cases: int = 200,
    base_rate: float = 0.8,
    drop: float = 0.0,
    seed: int = 0,
    *,
    max_drop: float = 0.0,
    confidence: float = 0.95,
    case_sd: float = 1.5,
) -> float:
    """Share of simulated pull requests whose quality gate fails.

    Model: each case i has a difficulty a_i ~ Normal(mu, case_sd^2) on the logit
    scale, drawn afresh for every simulated PR. The baseline passes case i with
    probability logistic(a_i); the candidate with logistic(a_i - shift). Given a_i
    the two runs are independent (sampling noise), so pairs are correlated only
    through the shared difficulty. mu and shift are solved exactly (quadrature) so
    the expected pass rates are `base_rate` and `base_rate - drop`.

    Each PR is run through `llmctl.gate.compare` with `GateConfig(confidence,
    max_drop, min_pass_rate=None)` and no cost or latency change, so the returned
    rate is the gate's false-positive rate (drop == 0) or its power (drop > 0).
    """
    rng = np.random.default_rng(seed)
    mu = _solve_mu(base_rate, case_sd)
    mu_cand = _solve_mu(base_rate - drop, case_sd) if drop else mu
    gate = GateConfig(
        confidence=confidence,
        min_pass_rate=None,
        max_drop=max_drop,
        cost_max_increase=None,
        latency_p95_max_increase=None,
    )
    ids = [f"case-{i}" for i in range(n_cases)]
    failures = 0
    for _ in range(n_prs):
        difficulty = rng.normal(0.0, case_sd, size=n_cases)
        base_pass = rng.random(n_cases) < _logistic(mu + difficulty)
        cand_pass = rng.random(n_cases) < _logistic(mu_cand + difficulty)
        baseline = [CaseOutcome("p", "m", cid, passed=bool(ok)) for cid, ok in zip(ids, base_pass, strict=True)]
        candidate = [CaseOutcome("p", "m", cid, passed=bool(ok)) for cid, ok in zip(ids, cand_pass, strict=True)]
        if not compare(baseline, candidate, gate, detectable=False).passed:
            failures += 1
    return failures / n_prs if n_prs else 0.0
