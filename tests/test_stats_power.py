"""The gate's power model (llmctl.stats: mid-p critical values, exact power, case spread, the
minimum detectable drop) against SciPy/statsmodels as oracles and against Monte Carlo simulation
of the very model it claims to compute."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from llmctl import stats


def test_wilson_interval_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for n in (1, 5, 20, 137, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for conf in (0.8, 0.95, 0.99):
                lo, hi = stats.wilson_interval(k, n, conf)
                ref_lo, ref_hi = proportion_confint(k, n, alpha=1 - conf, method="wilson")
                assert lo == pytest.approx(ref_lo, abs=1e-9), (k, n, conf)
                assert hi == pytest.approx(ref_hi, abs=1e-9), (k, n, conf)


@pytest.mark.parametrize("level", [0.05, 0.025, 0.01])
def test_midp_critical_is_the_smallest_rejecting_count(level: float) -> None:
    m = np.arange(0, 301)
    crit = stats.midp_critical(m, level)
    for mi, ci in zip(m.tolist(), crit.tolist(), strict=True):
        rejecting = [k for k in range(mi + 1) if stats.mcnemar_midp(k, mi - k) <= level]
        assert ci == (rejecting[0] if rejecting else mi + 1), mi
        # and every count above it rejects too (the p-value falls with the worse count)
        assert all(stats.mcnemar_midp(k, mi - k) <= level for k in range(ci, mi + 1))


def _power_brute_force(n: int, p_worse: float, p_better: float, level: float) -> float:
    """Sum over every (worse, better) outcome of the trinomial: the definition of the power."""
    total = 0.0
    p_same = 1.0 - p_worse - p_better
    for w in range(n + 1):
        for b in range(n - w + 1):
            if stats.mcnemar_midp(w, b) <= level:
                coef = math.factorial(n) / (math.factorial(w) * math.factorial(b) * math.factorial(n - w - b))
                total += coef * p_worse**w * p_better**b * p_same ** (n - w - b)
    return total


@pytest.mark.parametrize(("n", "p_worse", "p_better"), [(12, 0.2, 0.05), (30, 0.15, 0.1), (40, 0.3, 0.0)])
def test_midp_power_matches_the_trinomial_sum(n: int, p_worse: float, p_better: float) -> None:
    exact = _power_brute_force(n, p_worse, p_better, 0.05)
    assert stats.mcnemar_midp_power(n, p_worse, p_better, 0.05) == pytest.approx(exact, abs=1e-9)


def test_midp_size_stays_below_the_level() -> None:
    # no change: worse and better equally likely; the mid-p test's size is near but not above 5%
    for n in (20, 50, 200, 1000):
        size = stats.mcnemar_midp_power(n, 0.1, 0.1, 0.05)
        assert 0.01 < size <= 0.05 + 1e-3, (n, size)


def _simulate_cases(spread: stats.CaseSpread, n: int, repeats: int, rng: np.random.Generator) -> np.ndarray:
    a, b = spread.mean * spread.kappa, (1.0 - spread.mean) * spread.kappa
    return rng.beta(a, b, n)


def test_discordance_matches_monte_carlo() -> None:
    rng = np.random.default_rng(7)
    for mean, kappa, repeats in [(0.8, 5.0, 1), (0.7, 2.0, 3), (0.5, 20.0, 5)]:
        spread = stats.CaseSpread(mean, kappa)
        disc = stats.discordance(spread, repeats)
        p = _simulate_cases(spread, 400_000, repeats, rng)
        base = rng.binomial(repeats, p)
        cand = rng.binomial(repeats, p)
        assert disc.noise == pytest.approx(float(np.mean(cand < base)), abs=0.003), (mean, kappa, repeats)
        assert disc.broken_seen == pytest.approx(float(np.mean(base > 0)), abs=0.003)


def test_fit_spread_recovers_the_spread_it_was_given() -> None:
    for mean, kappa, repeats in [(0.8, 4.0, 1), (0.8, 4.0, 3), (0.6, 1.0, 2), (0.9, 30.0, 1)]:
        observed = 2.0 * stats.discordance(stats.CaseSpread(mean, kappa), repeats).noise
        fitted = stats.fit_spread(mean, observed, repeats)
        assert fitted.kappa == pytest.approx(kappa, rel=1e-3), (mean, kappa, repeats)
    assert stats.fit_spread(0.8, 0.0, 1).kappa == 0.0  # never disagreeing: deterministic cases
    assert math.isinf(stats.fit_spread(0.8, 0.99, 1).kappa)


def _simulated_gate_power(
    n: int, drop: float, spread: stats.CaseSpread, repeats: int, level: float, trials: int, seed: int
) -> float:
    """The model behind `drop_power`, simulated: cases ~ Beta, a share drop/mean of them broken
    (fail every candidate sample), `repeats` samples a side, the one-sided mid-p McNemar/sign test
    on the per-case means."""
    rng = np.random.default_rng(seed)
    crit_cache: dict[int, int] = {}
    hits = 0
    for _ in range(trials):
        p = _simulate_cases(spread, n, repeats, rng)
        broken = rng.random(n) < drop / spread.mean
        base = rng.binomial(repeats, p)
        cand = np.where(broken, 0, rng.binomial(repeats, p))
        worse, better = int(np.sum(cand < base)), int(np.sum(cand > base))
        m = worse + better
        if m not in crit_cache:
            crit_cache[m] = int(stats.midp_critical(np.asarray([m]), level)[0])
        hits += m > 0 and worse >= crit_cache[m]
    return hits / trials


@pytest.mark.parametrize(("n", "repeats"), [(200, 1), (40, 3)])
def test_min_detectable_drop_is_what_simulation_detects_with_80_percent(n: int, repeats: int) -> None:
    spread = stats.CaseSpread(0.8, 5.0)  # Beta(4, 1): the difficulty of benchmarks/gate_sim.py
    disc = stats.discordance(spread, repeats)
    mdd = stats.min_detectable_drop(n, disc, 0.05)
    assert mdd is not None and 0.0 < mdd < 0.8
    assert stats.drop_power(n, mdd, disc, 0.05) >= 0.8
    assert stats.drop_power(n, mdd - 0.002, disc, 0.05) < 0.8
    trials = 3000
    simulated = _simulated_gate_power(n, mdd, spread, repeats, 0.05, trials, seed=n)
    se = math.sqrt(0.8 * 0.2 / trials)
    assert simulated == pytest.approx(0.8, abs=4 * se + 0.01), (mdd, simulated)


def test_more_cases_detect_smaller_drops() -> None:
    spread = stats.CaseSpread(0.8, 5.0)
    by_n = [stats.min_detectable_drop(n, stats.discordance(spread, 1), 0.05) for n in (20, 50, 200, 1000)]
    assert all(d is not None for d in by_n)
    assert by_n == sorted(by_n, reverse=True)
    # a stricter level (Bonferroni/Holm share of alpha) needs a larger drop
    strict = stats.min_detectable_drop(200, stats.discordance(spread, 1), 0.01)
    assert strict is not None and by_n[2] is not None and strict > by_n[2]


def test_cases_needed_agrees_with_min_detectable_drop() -> None:
    disc = stats.discordance(stats.CaseSpread(0.8, 5.0), 1)
    need = stats.cases_needed(0.10, disc, 0.05)
    assert need is not None
    detectable = stats.min_detectable_drop(need, disc, 0.05)
    assert detectable is not None and detectable <= 0.10 + 1e-3
    assert stats.cases_needed(0.0, disc, 0.05) is None
    assert stats.cases_needed(0.9, disc, 0.05) is None  # beyond the pass rate itself


def test_power_model_uses_scipy_binomial_tails() -> None:
    # the mid-p critical count at m = 30: P(X > k) + P(X = k)/2 <= 5% first at k = 20
    k = int(stats.midp_critical(np.asarray([30]), 0.05)[0])
    midp = binom.sf(k, 30, 0.5) + 0.5 * binom.pmf(k, 30, 0.5)
    before = binom.sf(k - 1, 30, 0.5) + 0.5 * binom.pmf(k - 1, 30, 0.5)
    assert midp <= 0.05 < before
