"""Statistics for the gate: paired tests, bootstrap intervals, Wilson intervals, percentiles.

Everything here works on plain sequences or numpy arrays and knows nothing about
prompts or models; `llmctl.gate` turns runs into the arrays these functions take.

Methods (see DESIGN.md "The gate"):

- Pass/fail of two runs is paired by case. With one sample per case the test is
  the exact McNemar test (a binomial test on the discordant pairs). With several
  samples per case (`repeat > 1`) each case is first reduced to its mean pass
  rate and the test is the exact sign test on the per-case differences, which is
  McNemar's test generalised: the case, not the sample, is the independent unit.
- The difference in pass rate (or mean score) gets a paired bootstrap interval
  that resamples cases (percentile method, seeded, 2,000 resamples). Resampling
  n cases with replacement is the same as drawing Multinomial(n, frequencies)
  over the distinct per-case differences, so for pass/fail data (few distinct
  values) the bootstrap costs O(resamples x distinct values), not O(resamples x n).
  For continuous data with very many cases it falls back to the normal
  approximation, which is what the bootstrap converges to there.
- A single pass rate gets a Wilson score interval.

numpy is imported lazily so that importing llmctl stays cheap.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20240601
# Above this many (resamples x cases) with many distinct values, use the normal approximation.
_MAX_BOOTSTRAP_CELLS = 20_000_000
_MAX_DISTINCT_FOR_MULTINOMIAL = 4096
_MAX_RATIO_CELLS = 2_000_000  # n x resamples of one ratio bootstrap (a large run resamples less)


def _np() -> Any:
    import numpy

    return numpy


def z_value(confidence: float, *, two_sided: bool = True) -> float:
    """The standard normal quantile for a confidence level (1.96 for 0.95 two-sided)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    alpha = 1.0 - confidence
    return NormalDist().inv_cdf(1.0 - (alpha / 2.0 if two_sided else alpha))


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion `successes / n` (two-sided at `confidence`).

    `successes` may be fractional (a sum of per-case mean pass rates). With n == 0 the
    interval is (0, 1): nothing is known.
    """
    if n <= 0:
        return (0.0, 1.0)
    z = z_value(confidence)
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if p <= 0.0 else max(0.0, centre - half)
    hi = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return (lo, hi)


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation), or None for no values."""
    numpy = _np()
    arr = numpy.asarray(values, dtype=float)
    if arr.size == 0:
        return None
    return float(numpy.percentile(arr, q))


def latency_percentiles(values: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """p50 and p95 of a list of latencies (None when empty)."""
    numpy = _np()
    arr = numpy.asarray(values, dtype=float)
    if arr.size == 0:
        return {"p50": None, "p95": None}
    p50, p95 = numpy.percentile(arr, [50, 95])
    return {"p50": float(p50), "p95": float(p95)}


def binom_half_tail_ge(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly (in log space, vectorised)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    numpy = _np()
    # log C(n, j) for j = k..n via a log-factorial table
    logfact = numpy.concatenate(([0.0], numpy.cumsum(numpy.log(numpy.arange(1, n + 1, dtype=float)))))
    j = numpy.arange(k, n + 1)
    logpmf = logfact[n] - logfact[j] - logfact[n - j] - n * math.log(2.0)
    top = float(logpmf.max())
    return float(min(1.0, math.exp(top) * float(numpy.exp(logpmf - top).sum())))


def mcnemar_exact(worse: int, better: int, alternative: str = "two-sided") -> float:
    """Exact McNemar p-value from the discordant pair counts.

    `worse`: pairs that passed in the baseline and failed in the candidate;
    `better`: the reverse. `alternative="worse"` is the one-sided test that the
    candidate is worse (P(X >= worse) with X ~ Bin(worse + better, 1/2));
    `"better"` the opposite; `"two-sided"` doubles the smaller tail (capped at 1).
    """
    m = worse + better
    if m == 0:
        return 1.0
    if alternative == "worse":
        return binom_half_tail_ge(worse, m)
    if alternative == "better":
        return binom_half_tail_ge(better, m)
    if alternative != "two-sided":
        raise ValueError(f"unknown alternative {alternative!r}")
    return min(1.0, 2.0 * min(binom_half_tail_ge(worse, m), binom_half_tail_ge(better, m)))


def mcnemar_midp(worse: int, better: int) -> float:
    """One-sided mid-p McNemar p-value that the candidate is worse.

    P(X > worse) + P(X = worse) / 2 for X ~ Bin(worse + better, 1/2) (SciPy's binomial).
    The exact test's p-values jump in steps, so at a nominal 5% it rejects only 1-4% of
    the time and loses power; the mid-p variant's size stays close to (and in the
    simulations in benchmarks/, below) the nominal level.
    """
    from scipy.stats import binom

    m = worse + better
    if m == 0:
        return 1.0
    return float(min(1.0, binom.sf(worse, m, 0.5) + 0.5 * binom.pmf(worse, m, 0.5)))


def holm(p_values: Sequence[float], weights: Sequence[float], alpha: float) -> list[bool]:
    """Weighted Holm step-down: which hypotheses are rejected, family-wise error <= alpha.

    Hypotheses are taken in order of p/w; the i-th is rejected while
    p_i <= alpha * w_i / (sum of the weights not yet rejected). With equal weights this
    is Holm's procedure (Holm 1979, whose weighted form this is). SciPy has no Holm
    (its `false_discovery_control` controls the FDR, not the family-wise rate).
    """
    n = len(p_values)
    if n != len(weights):
        raise ValueError("one weight per p-value")
    order = sorted(range(n), key=lambda i: p_values[i] / weights[i] if weights[i] > 0 else math.inf)
    remaining = float(sum(weights))
    rejected = [False] * n
    for i in order:
        if weights[i] <= 0 or remaining <= 0 or p_values[i] > alpha * weights[i] / remaining:
            break
        rejected[i] = True
        remaining -= weights[i]
    return rejected


@dataclass
class RatioResult:
    """A paired bootstrap of statistic(candidate) / statistic(baseline) - 1 (a relative change)."""

    baseline: float
    candidate: float
    change: float  # relative: +0.22 is 22% higher
    interval: tuple[float, float]  # two-sided, relative
    p_increase: float  # one-sided bootstrap p-value that the candidate is higher
    n: int


def paired_ratio_bootstrap(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    statistic: str = "mean",
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> RatioResult:
    """Relative change of a statistic (`mean`, `p50`, `p95`) with a paired bootstrap over cases.

    Cases are resampled together (both sides' values of a case travel as a pair), so a
    slow case stays slow on both sides. The interval is the percentile interval of the
    resampled relative changes; `p_increase` is the share of resamples with no increase
    (+1 correction). With no variation at all the interval is the point itself.
    """
    numpy = _np()
    base = numpy.asarray(baseline, dtype=float)
    cand = numpy.asarray(candidate, dtype=float)
    if base.shape != cand.shape:
        raise ValueError("baseline and candidate must have the same length (they are paired)")
    n = int(base.size)

    def stat(x: Any, axis: int | None = None) -> Any:
        if statistic == "mean":
            return x.mean(axis=axis)
        q = {"p50": 0.5, "p95": 0.95}[statistic]
        return numpy.quantile(x, q, axis=axis)

    if n == 0:
        return RatioResult(math.nan, math.nan, math.nan, (math.nan, math.nan), 1.0, 0)
    b0, c0 = float(stat(base)), float(stat(cand))
    if b0 <= 0:
        change = math.inf if c0 > 0 else 0.0
        return RatioResult(b0, c0, change, (change, change), 0.0 if c0 > 0 else 1.0, n)
    point = c0 / b0 - 1.0
    rng = numpy.random.default_rng(seed)
    # Very large runs: fewer resamples (the cost is n x resamples), and a normal interval and
    # p-value from their spread, whose resolution does not depend on the number of resamples.
    full = resamples
    resamples = min(resamples, max(50, _MAX_RATIO_CELLS // n))
    changes = numpy.empty(resamples)
    chunk = max(1, _MAX_BOOTSTRAP_CELLS // (10 * n))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        sb = stat(base[idx], axis=1)
        sc = stat(cand[idx], axis=1)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            changes[start:stop] = numpy.where(sb > 0, sc / sb - 1.0, numpy.where(sc > 0, numpy.inf, 0.0))
    alpha = 1.0 - confidence
    if numpy.allclose(changes, point):  # no variation: the interval is the point
        return RatioResult(b0, c0, point, (point, point), 1.0 / (resamples + 1.0) if point > 0 else 1.0, n)
    if resamples < full:
        se = float(numpy.std(changes[numpy.isfinite(changes)], ddof=1))
        z = z_value(confidence)
        p_normal = NormalDist().cdf(-point / se) if se > 0 else (0.0 if point > 0 else 1.0)
        return RatioResult(b0, c0, point, (point - z * se, point + z * se), p_normal, n)
    lo, hi = numpy.quantile(changes, [alpha / 2.0, 1.0 - alpha / 2.0])
    p_increase = (float((changes <= 0).sum()) + 1.0) / (resamples + 1.0)
    return RatioResult(b0, c0, point, (float(lo), float(hi)), min(1.0, p_increase), n)


def sign_test(differences: Sequence[float] | np.ndarray, alternative: str = "worse") -> tuple[float, int, int]:
    """Exact sign test on paired differences (candidate - baseline); ties are dropped.

    Returns (p_value, n_worse, n_better). For 0/1 data this is exactly McNemar's test.
    """
    numpy = _np()
    d = numpy.asarray(differences, dtype=float)
    worse = int((d < 0).sum())
    better = int((d > 0).sum())
    return mcnemar_exact(worse, better, alternative), worse, better


@dataclass
class BootstrapResult:
    """A paired bootstrap of the mean difference (candidate - baseline)."""

    delta: float
    interval: tuple[float, float]
    p_worse: float  # one-sided bootstrap p-value for "candidate is worse"
    method: str  # "bootstrap" or "normal"


def paired_bootstrap(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> BootstrapResult:
    """Paired bootstrap (over pairs) of mean(candidate - baseline) with a percentile interval.

    The interval is two-sided at `confidence`. `p_worse` is the share of resampled
    differences >= 0 (with the usual +1 correction): small when the candidate is
    clearly worse.
    """
    numpy = _np()
    base = numpy.asarray(baseline, dtype=float)
    cand = numpy.asarray(candidate, dtype=float)
    if base.shape != cand.shape:
        raise ValueError("baseline and candidate must have the same length (they are paired)")
    n = base.size
    if n == 0:
        return BootstrapResult(0.0, (0.0, 0.0), 1.0, "none")
    d = cand - base
    delta = float(d.mean())
    alpha = 1.0 - confidence
    values, counts = numpy.unique(d, return_counts=True)
    rng = numpy.random.default_rng(seed)
    if values.size == 1:
        return BootstrapResult(delta, (delta, delta), 1.0 if delta >= 0 else 0.0, "bootstrap")
    if values.size <= _MAX_DISTINCT_FOR_MULTINOMIAL:
        draws = rng.multinomial(n, counts / n, size=resamples)
        means = draws @ values / n
    elif n * resamples <= _MAX_BOOTSTRAP_CELLS:
        means = numpy.empty(resamples)
        chunk = max(1, _MAX_BOOTSTRAP_CELLS // (10 * n))
        for start in range(0, resamples, chunk):
            stop = min(resamples, start + chunk)
            idx = rng.integers(0, n, size=(stop - start, n))
            means[start:stop] = d[idx].mean(axis=1)
    else:
        se = float(d.std(ddof=1)) / math.sqrt(n)
        z = z_value(confidence)
        p = NormalDist().cdf(delta / se) if se > 0 else (1.0 if delta >= 0 else 0.0)
        return BootstrapResult(delta, (delta - z * se, delta + z * se), p, "normal")
    lo, hi = numpy.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    p_worse = (float((means >= 0).sum()) + 1.0) / (resamples + 1.0)
    return BootstrapResult(delta, (float(lo), float(hi)), min(1.0, p_worse), "bootstrap")


def aggregate_by_key(keys: np.ndarray, values: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-key (integer-coded) mean of `values` and the count of samples per key."""
    numpy = _np()
    counts = numpy.bincount(keys, minlength=n_keys)
    sums = numpy.bincount(keys, weights=values.astype(float), minlength=n_keys)
    with numpy.errstate(invalid="ignore", divide="ignore"):
        means = numpy.where(counts > 0, sums / numpy.maximum(counts, 1), numpy.nan)
    return means, counts


@dataclass
class PairedComparison:
    """The outcome of comparing paired per-case values (candidate - baseline)."""

    n_pairs: int
    baseline: float
    candidate: float
    delta: float
    interval: tuple[float, float]
    p_worse: float  # one-sided p-value that the candidate is worse
    p_two_sided: float
    worse: int  # cases with a lower candidate value (discordant pass->fail when binary)
    better: int
    method: str

    def significant_drop(self, confidence: float) -> bool:
        return self.p_worse < 1.0 - confidence


def compare_paired(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    test: str = "sign",
) -> PairedComparison:
    """Compare per-case values paired by position (one entry per case).

    `test="sign"`: exact sign test (= exact McNemar for 0/1 values); this is what the
    gate uses for pass rates. `test="bootstrap"`: the bootstrap's own one-sided p-value
    (used for continuous scores, where magnitudes matter).
    """
    numpy = _np()
    base = numpy.asarray(baseline, dtype=float)
    cand = numpy.asarray(candidate, dtype=float)
    boot = paired_bootstrap(base, cand, confidence=confidence, resamples=resamples, seed=seed)
    p_sign, worse, better = sign_test(cand - base, "worse")
    p_two = mcnemar_exact(worse, better, "two-sided")
    if test == "bootstrap":
        p_worse = boot.p_worse
        method = f"paired {boot.method}"
    elif test == "sign":
        p_worse = p_sign
        method = f"exact sign test (McNemar), paired {boot.method} interval"
    elif test == "midp":
        p_worse = mcnemar_midp(worse, better)
        method = f"mid-p McNemar (sign) test, paired {boot.method} interval"
    else:
        raise ValueError(f"unknown test {test!r}")
    n = int(base.size)
    return PairedComparison(
        n_pairs=n,
        baseline=float(base.mean()) if n else math.nan,
        candidate=float(cand.mean()) if n else math.nan,
        delta=boot.delta,
        interval=boot.interval,
        p_worse=p_worse,
        p_two_sided=p_two,
        worse=worse,
        better=better,
        method=method,
    )


# --- simulation -----------------------------------------------------------------------------


def _logistic(x: np.ndarray) -> np.ndarray:
    numpy = _np()
    return 1.0 / (1.0 + numpy.exp(-x))


@functools.lru_cache(maxsize=1)
def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = _np().polynomial.hermite_e.hermegauss(80)
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
    from llmctl.config import GateConfig
    from llmctl.gate import compare
    from llmctl.types import CaseOutcome

    numpy = _np()
    rng = numpy.random.default_rng(seed)
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
        if not compare(baseline, candidate, gate).passed:
            failures += 1
    return failures / n_prs if n_prs else 0.0
