"""Tests of llmctl.stats against closed forms and brute force."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from llmctl import stats


def test_wilson_interval_known_value():
    lo, hi = stats.wilson_interval(8, 10, 0.95)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = stats.wilson_interval(0, 20)
    assert lo == 0.0 and 0 < hi < 0.2
    lo, hi = stats.wilson_interval(20, 20)
    assert hi == 1.0 and 0.8 < lo < 1.0


def test_binomial_tail_matches_brute_force():
    rnd = random.Random(1)
    for _ in range(200):
        n = rnd.randint(1, 300)
        k = rnd.randint(0, n + 1)
        exact = sum(math.comb(n, j) for j in range(k, n + 1)) / 2**n
        assert stats.binom_half_tail_ge(k, n) == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_mcnemar_exact_values():
    assert stats.mcnemar_exact(10, 0, "worse") == pytest.approx(0.5**10)
    assert stats.mcnemar_exact(10, 0) == pytest.approx(2 * 0.5**10)
    assert stats.mcnemar_exact(0, 10, "better") == pytest.approx(0.5**10)
    assert stats.mcnemar_exact(0, 10, "worse") == 1.0
    assert stats.mcnemar_exact(5, 5, "worse") == pytest.approx(sum(math.comb(10, j) for j in range(5, 11)) / 1024)
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(3, 3) == 1.0
    # large counts stay finite and exact-ish
    p = stats.mcnemar_exact(5200, 4800, "worse")
    assert 0 < p < 0.001


def test_sign_test_is_mcnemar_on_binary_pairs():
    base = np.array([1, 1, 1, 0, 0, 1, 1, 0, 1, 1], dtype=float)
    cand = np.array([0, 1, 0, 0, 1, 0, 1, 0, 0, 1], dtype=float)
    p, worse, better = stats.sign_test(cand - base)
    assert (worse, better) == (4, 1)
    assert p == pytest.approx(stats.mcnemar_exact(4, 1, "worse"))


def test_paired_bootstrap_is_seeded_and_brackets_the_delta():
    rng = np.random.default_rng(3)
    base = (rng.random(300) < 0.8).astype(float)
    cand = base.copy()
    cand[rng.choice(300, 30, replace=False)] = 0.0
    a = stats.paired_bootstrap(base, cand, seed=7)
    b = stats.paired_bootstrap(base, cand, seed=7)
    assert a == b
    assert a.method == "bootstrap"
    assert a.interval[0] <= a.delta <= a.interval[1]
    assert a.interval[1] < 0  # a clear drop
    assert a.p_worse < 0.01


def test_multinomial_bootstrap_matches_index_bootstrap():
    """The fast path (multinomial over distinct values) has the index bootstrap's distribution."""
    rng = np.random.default_rng(11)
    base = (rng.random(400) < 0.7).astype(float)
    cand = (rng.random(400) < 0.65).astype(float)
    fast = stats.paired_bootstrap(base, cand, resamples=4000, seed=1)
    d = cand - base
    idx = rng.integers(0, d.size, size=(4000, d.size))
    naive = np.quantile(d[idx].mean(axis=1), [0.025, 0.975])
    assert fast.interval[0] == pytest.approx(naive[0], abs=0.01)
    assert fast.interval[1] == pytest.approx(naive[1], abs=0.01)


def test_bootstrap_normal_fallback_for_large_continuous_data():
    rng = np.random.default_rng(5)
    base = rng.random(100_000)
    cand = base - 0.01 + rng.normal(0, 0.05, 100_000)
    res = stats.paired_bootstrap(base, cand)
    assert res.method == "normal"
    assert res.interval[0] < -0.01 < res.interval[1]
    assert res.p_worse < 1e-6


def test_bootstrap_degenerate_inputs():
    assert stats.paired_bootstrap([], []).interval == (0.0, 0.0)
    same = stats.paired_bootstrap([1, 1, 0], [1, 1, 0])
    assert same.delta == 0 and same.interval == (0.0, 0.0)
    with pytest.raises(ValueError):
        stats.paired_bootstrap([1, 0], [1])


def test_compare_paired_fields():
    res = stats.compare_paired([1, 1, 1, 1, 0], [0, 0, 1, 1, 0])
    assert res.n_pairs == 5
    assert res.baseline == pytest.approx(0.8) and res.candidate == pytest.approx(0.4)
    assert res.delta == pytest.approx(-0.4)
    assert (res.worse, res.better) == (2, 0)
    assert res.p_worse == pytest.approx(0.25)
    assert not res.significant_drop(0.95)


def test_percentiles():
    values = list(range(1, 101))
    assert stats.percentile(values, 50) == pytest.approx(50.5)
    assert stats.latency_percentiles(values)["p95"] == pytest.approx(95.05)
    assert stats.latency_percentiles([]) == {"p50": None, "p95": None}
    assert stats.percentile([], 50) is None


def test_aggregate_by_key():
    means, counts = stats.aggregate_by_key(np.array([0, 0, 1, 2, 2, 2]), np.array([1, 0, 1, 1, 1, 0]), 4)
    assert counts.tolist() == [2, 1, 3, 0]
    assert means[:3].tolist() == pytest.approx([0.5, 1.0, 2 / 3])
    assert math.isnan(means[3])


def test_mcnemar_midp_against_the_binomial_sum() -> None:
    from math import comb

    from llmctl.stats import mcnemar_midp

    for worse, better in [(0, 0), (3, 0), (7, 3), (12, 20), (30, 0), (50, 41)]:
        m = worse + better
        if m == 0:
            assert mcnemar_midp(worse, better) == 1.0
            continue
        tail = sum(comb(m, j) for j in range(worse + 1, m + 1)) / 2**m
        half = comb(m, worse) / 2**m / 2
        assert mcnemar_midp(worse, better) == pytest.approx(tail + half, rel=1e-9)


def test_holm_step_down() -> None:
    from llmctl.stats import holm

    # equal weights: Holm 1979 (0.01 <= 0.05/4, 0.015 <= 0.05/3, 0.03 > 0.05/2: stop)
    assert holm([0.03, 0.01, 0.015, 0.04], [1, 1, 1, 1], 0.05) == [False, True, True, False]
    assert holm([0.001, 0.02, 0.04], [1, 1, 1], 0.05) == [True, True, True]
    # weights: the heavy hypothesis gets 8/10 of alpha first
    assert holm([0.03, 0.5, 0.5], [8, 1, 1], 0.05) == [True, False, False]
    assert holm([0.03, 0.5, 0.5], [1, 1, 1], 0.05) == [False, False, False]
    assert holm([], [], 0.05) == []


def test_ratio_bootstrap_point_interval_and_p() -> None:
    import numpy as np

    from llmctl.stats import paired_ratio_bootstrap

    base = np.linspace(1.0, 2.0, 50)
    same = paired_ratio_bootstrap(base, base * 1.3)  # no variation in the ratio: the interval is the point
    assert same.change == pytest.approx(0.3) and same.interval == pytest.approx((0.3, 0.3))
    assert same.p_increase < 0.001
    rng = np.random.default_rng(1)
    noisy_b = rng.lognormal(4, 0.5, 200)
    noisy_c = rng.lognormal(4, 0.5, 200)
    r = paired_ratio_bootstrap(noisy_b, noisy_c, statistic="p95")
    assert r.interval[0] < r.change < r.interval[1]
    assert r.p_increase > 0.01  # two samples of one distribution: no significant increase
    assert paired_ratio_bootstrap([], []).n == 0


def test_the_binomial_without_scipy_stats_is_scipy_stats_binom_bit_for_bit():
    """stats._binom() (SciPy's binomial ufuncs, not scipy.stats) gives exactly scipy.stats.binom's
    values, types and edge cases: outside the support, bad n or p, q of 0 and 1, NaN, arrays."""
    import itertools

    from scipy.stats import binom as reference

    ours = stats._binom()
    assert ours is not reference  # the scipy.stats-free path is the one in use

    def same(a, b):
        return (
            type(a) is type(b) and np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b, equal_nan=True)
        )

    ns = [0, 1, 5, 10, 10.5, -1, 1000]
    ps = [0, 0.5, 0.3, 1, 1.2]
    for name in ("pmf", "sf"):
        for k, n, p in itertools.product([-3, 0, 1, 2, 5, 9, 10, 11, 2.5, np.nan, np.inf, -np.inf], ns, ps):
            assert same(getattr(ours, name)(k, n, p), getattr(reference, name)(k, n, p)), (name, k, n, p)
    for name in ("ppf", "isf"):
        for q, n, p in itertools.product([0, 1e-12, 0.025, 0.5, 0.975, 1, 1.5, -0.1, np.nan], ns, ps):
            assert same(getattr(ours, name)(q, n, p), getattr(reference, name)(q, n, p)), (name, q, n, p)
    m, k = np.arange(300), np.arange(302)[:, None]
    p = np.linspace(0, 1, 7)[:, None]
    for name in ("pmf", "sf"):
        assert same(getattr(ours, name)(k, m, 0.5), getattr(reference, name)(k, m, 0.5))
        assert same(
            getattr(ours, name)(np.arange(4)[None, :], 3, p), getattr(reference, name)(np.arange(4)[None, :], 3, p)
        )
    for name in ("ppf", "isf"):
        assert same(getattr(ours, name)(0.05, m, 0.5), getattr(reference, name)(0.05, m, 0.5))


def test_a_gate_on_a_random_run_pair_is_the_same_with_scipy_stats_binom(monkeypatch: pytest.MonkeyPatch):
    """The whole verdict (p-values, intervals, detectable drops) of a random run pair is identical
    with scipy.stats.binom in place of stats._binom()."""
    from scipy.stats import binom as reference

    from llmctl.config import GateConfig
    from llmctl.gate import compare
    from llmctl.types import CaseOutcome

    rnd = random.Random(27)

    def run(p: float) -> list[CaseOutcome]:
        out = []
        for i in range(3000):
            for repeat in range(2):
                ok = rnd.random() < p
                out.append(
                    CaseOutcome(
                        "qa",
                        "m",
                        f"c{i}",
                        repeat_index=repeat,
                        passed=ok,
                        scores={"contains": float(ok), "judge": rnd.random()},
                        evaluator_passed={"contains": ok},
                        cost_usd=rnd.random() * 1e-4,
                        latency_ms=rnd.gauss(200, 30),
                    )
                )
        return out

    baseline, candidate = run(0.9), run(0.87)
    gate = GateConfig(min_pass_rate=0.5, max_drop=0.01)
    ours = compare(baseline, candidate, gate)
    monkeypatch.setattr(stats, "_BINOM", reference)
    theirs = compare(baseline, candidate, gate)
    assert repr(ours) == repr(theirs)
    pass_rate = next(m for m in ours.metrics if m.metric == "pass_rate")
    assert pass_rate.p_value is not None and pass_rate.mde is not None  # the binomial was used
