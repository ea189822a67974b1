"""Statistics for the gate: paired tests, bootstrap intervals, Wilson intervals, percentiles.

Everything here works on plain sequences or numpy arrays and knows nothing about
prompts or models; `llmctl.gate` turns runs into the arrays these functions take.

Methods (see README, "The gate"):

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


class _Binom:
    """`scipy.stats.binom`'s pmf, sf, ppf and isf, bit for bit, without importing scipy.stats.

    `import scipy.stats` costs ~3.4 s of CPU on two busy cores (every distribution class and its
    docstrings are built), `import scipy.special` ~0.7 s, and the gate needs only the binomial.
    These are the functions `scipy.stats.binom` itself calls (SciPy's Boost binomial ufuncs in
    `scipy.special._ufuncs`) with the same argument checks, support, clipping and edge values as
    `rv_discrete.pmf/sf/ppf/isf` (SciPy 1.17); where the ufuncs are missing, scipy.stats.binom
    itself (`_binom()`). tests/test_stats.py checks them against scipy.stats.binom."""

    def __init__(self, ufuncs: Any) -> None:
        self._pmf, self._sf = ufuncs._binom_pmf, ufuncs._binom_sf
        self._ppf, self._isf = ufuncs._binom_ppf, ufuncs._binom_isf

    @staticmethod
    def _args(x: Any, n: Any, p: Any) -> tuple[Any, Any, Any, Any]:
        numpy = _np()
        x, n, p = numpy.broadcast_arrays(numpy.asarray(x), numpy.asarray(n), numpy.asarray(p))
        ok = (n >= 0) & (n == numpy.round(n)) & (p >= 0) & (p <= 1)  # binom._argcheck
        return x, n, p, ok

    @staticmethod
    def _out(out: Any) -> Any:
        return out[()] if out.ndim == 0 else out

    def pmf(self, k: Any, n: Any, p: Any) -> Any:
        numpy = _np()
        k, n, p, ok = self._args(k, n, p)
        cond = ok & (k >= 0) & (k <= n) & (numpy.floor(k) == k)
        out = numpy.zeros(cond.shape, "d")
        out[~ok | numpy.isnan(k)] = numpy.nan
        if cond.any():
            out[cond] = numpy.clip(self._pmf(k[cond], n[cond], p[cond]), 0, 1)
        return self._out(out)

    def sf(self, k: Any, n: Any, p: Any) -> Any:
        numpy = _np()
        k, n, p, ok = self._args(k, n, p)
        cond = ok & (k >= 0) & (k < n) & numpy.isfinite(k)
        out = numpy.zeros(cond.shape, "d")
        out[~ok | numpy.isnan(k)] = numpy.nan
        out[((k < 0) | numpy.isneginf(k)) & ok] = 1.0
        if cond.any():
            out[cond] = numpy.clip(self._sf(numpy.floor(k[cond]), n[cond], p[cond]), 0, 1)
        return self._out(out)

    def _inverse(self, fn: Any, q: Any, n: Any, p: Any, at_zero: str) -> Any:
        numpy = _np()
        q, n, p, ok = self._args(q, n, p)
        out = numpy.full(q.shape, numpy.nan, "d")
        low, high = (q == 0) & ok, (q == 1) & ok
        out[low] = -1.0 if at_zero == "below" else n[low]
        out[high] = n[high] if at_zero == "below" else -1.0
        cond = ok & (q > 0) & (q < 1)
        if cond.any():
            out[cond] = fn(q[cond], n[cond], p[cond])
        return self._out(out)

    def ppf(self, q: Any, n: Any, p: Any) -> Any:
        return self._inverse(self._ppf, q, n, p, "below")

    def isf(self, q: Any, n: Any, p: Any) -> Any:
        return self._inverse(self._isf, q, n, p, "above")


_BINOM: Any = None


def _binom() -> Any:
    """The binomial distribution the gate's tests use (see _Binom)."""
    global _BINOM
    if _BINOM is None:
        try:
            from scipy.special import _ufuncs

            _BINOM = _Binom(_ufuncs)
        except (ImportError, AttributeError):  # pragma: no cover - a SciPy without them
            from scipy.stats import binom

            _BINOM = binom
    return _BINOM


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
    binom = _binom()

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


# --- power and the minimum detectable effect ------------------------------------------------------

POWER_TARGET = 0.8
_MAX_POWER_CASES = 10_000_000


def midp_critical(m: Any, level: float) -> Any:
    """Per number of discordant pairs `m` (array), the smallest count of "worse" pairs at which the
    one-sided mid-p McNemar test rejects at `level` (p <= level); m + 1 where it never rejects."""
    binom = _binom()

    numpy = _np()
    m = numpy.asarray(m, dtype=numpy.int64)
    start = numpy.clip(binom.isf(level, m, 0.5).astype(numpy.int64) - 2, 0, None)
    crit = numpy.full(m.shape, -1, dtype=numpy.int64)
    for step in range(6):  # the mid-p critical value is within a step or two of the ordinary one
        k = numpy.minimum(start + step, m + 1)
        midp = binom.sf(k, m, 0.5) + 0.5 * binom.pmf(k, m, 0.5)
        hit = (crit < 0) & (k <= m) & (midp <= level)
        crit[hit] = k[hit]
    crit[crit < 0] = m[crit < 0] + 1
    return crit


def mcnemar_midp_power(n: int, p_worse: float, p_better: float, level: float) -> float:
    """Power of the one-sided mid-p McNemar test at `level`, by exact enumeration.

    `n` independent pairs; each is discordant "worse" (passed before, fails now) with probability
    `p_worse` and "better" with `p_better`. The number of discordant pairs m is Binomial(n, p_worse +
    p_better); given m the worse count is Binomial(m, p_worse / (p_worse + p_better)); the power is
    sum over m of P(m) x P(worse >= critical(m)). Values of m with probability below 1e-12 are skipped.
    """
    binom = _binom()

    numpy = _np()
    p_d = p_worse + p_better
    if n <= 0 or p_d <= 0.0 or p_worse <= 0.0:
        return 0.0
    p_d = min(p_d, 1.0)
    lo = int(binom.ppf(1e-12, n, p_d))
    hi = int(binom.isf(1e-12, n, p_d))
    m = numpy.arange(max(lo, 1), min(max(hi, lo), n) + 1)
    if m.size == 0:
        return 0.0
    crit = midp_critical(m, level)
    reject = binom.sf(crit - 1, m, min(1.0, p_worse / p_d))
    return float(min(1.0, (binom.pmf(m, n, p_d) * reject).sum()))


@dataclass
class CaseSpread:
    """How per-case pass probabilities spread around the pass rate: Beta(mean x kappa, (1 - mean) x kappa).

    kappa = 0 is the limit where every case is deterministic (always passes or always fails, so two
    runs never disagree); kappa = inf is the limit where every case passes with the same probability.
    """

    mean: float
    kappa: float

    def nodes(self, degree: int) -> tuple[np.ndarray, np.ndarray]:
        """Quadrature nodes and weights over the case distribution, exact for polynomials of `degree`."""
        numpy = _np()
        mu = min(max(self.mean, 0.0), 1.0)
        if mu in (0.0, 1.0) or self.kappa >= 1e3:  # beyond, the Beta is a point to 0.1%
            return numpy.asarray([mu]), numpy.asarray([1.0])
        a, b = mu * self.kappa, (1.0 - mu) * self.kappa
        if min(a, b) < 1e-6:
            return numpy.asarray([0.0, 1.0]), numpy.asarray([1.0 - mu, mu])
        from scipy.special import roots_jacobi

        # Gauss-Jacobi: weight (1 - x)^(b - 1) (1 + x)^(a - 1) on [-1, 1] is the Beta(a, b) density of (1 + x) / 2
        x, w = roots_jacobi(degree // 2 + 2, b - 1.0, a - 1.0)
        return (x + 1.0) / 2.0, w / w.sum()


@dataclass
class Discordance:
    """Per paired case, each side the mean of `repeats` samples: the chance that two runs with no change
    disagree each way (`noise`, the same both ways) and that a case broken in the candidate is seen worse."""

    noise: float  # P(candidate mean < baseline mean) = P(>) for an unchanged case
    broken_seen: float  # P(baseline mean > 0) for a case that always fails in the candidate
    mean: float

    def at(self, drop: float) -> tuple[float, float]:
        """(P(case worse), P(case better)) when the pass rate drops by `drop`."""
        share = min(max(drop / self.mean, 0.0), 1.0) if self.mean > 0 else 0.0
        return share * self.broken_seen + (1.0 - share) * self.noise, (1.0 - share) * self.noise


def discordance(spread: CaseSpread, repeats: int) -> Discordance:
    """The discordance of one paired case under the gate's power model.

    Model: a case passes each sample with its own probability p ~ `spread`, samples independent given
    p. A drop of `drop` breaks a share drop / mean of the cases (they fail every candidate sample) and
    leaves the others as they were, so the pass rate falls by exactly `drop`; deterministic cases stay
    deterministic, and more repeats help only against sampling noise. "Worse" is a lower candidate mean
    over the samples, which is what the sign test counts. The integrands are polynomials in p of degree
    2 x repeats, so Gauss-Jacobi quadrature over the Beta is exact.
    """
    binom = _binom()

    numpy = _np()
    r = max(1, int(repeats))
    p, w = spread.nodes(2 * r)
    j = numpy.arange(r + 1)
    pmf = binom.pmf(j[None, :], r, p[:, None])
    below = numpy.cumsum(pmf, axis=1) - pmf  # P(other side < j)
    noise = float(w @ (pmf * below).sum(axis=1))
    broken_seen = float(w @ (1.0 - (1.0 - p) ** r))
    return Discordance(noise, broken_seen, spread.mean)


def fit_spread(mean: float, observed_discordance: float, repeats: int) -> CaseSpread:
    """The case spread (method of moments) under which two runs with no change disagree on
    `observed_discordance` of the cases, as often as these runs did. With one sample per case
    the discordance is 2 x mean x (1 - mean) x kappa / (kappa + 1); with more, bisection on kappa."""
    mean = min(max(mean, 0.0), 1.0)
    if mean in (0.0, 1.0) or observed_discordance <= 0.0:
        return CaseSpread(mean, 0.0)
    most = 2.0 * discordance(CaseSpread(mean, math.inf), repeats).noise
    if observed_discordance >= most:
        return CaseSpread(mean, math.inf)
    if repeats <= 1:
        rho = observed_discordance / most
        return CaseSpread(mean, rho / (1.0 - rho))
    lo, hi = 0.0, 1.0  # t = kappa / (1 + kappa)
    while hi - lo > 1e-6:
        t = (lo + hi) / 2.0
        if 2.0 * discordance(CaseSpread(mean, t / (1.0 - t)), repeats).noise < observed_discordance:
            lo = t
        else:
            hi = t
    t = (lo + hi) / 2.0
    return CaseSpread(mean, t / (1.0 - t))


def drop_power(n: int, drop: float, disc: Discordance, level: float) -> float:
    """Power of the gate's mid-p test to see a pass-rate drop of `drop` with `n` paired cases."""
    worse, better = disc.at(drop)
    return mcnemar_midp_power(n, worse, better, level)


def min_detectable_drop(n: int, disc: Discordance, level: float, power: float = POWER_TARGET) -> float | None:
    """The smallest pass-rate drop that `n` paired cases detect with probability `power` at `level`
    (bisection to 0.1 point; power grows with the drop), or None when not even a drop to zero is."""
    if n <= 0 or disc.mean <= 0.0 or drop_power(n, disc.mean, disc, level) < power:
        return None
    lo, hi = 0.0, disc.mean
    while hi - lo > 1e-3:
        mid = (lo + hi) / 2.0
        if drop_power(n, mid, disc, level) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def cases_needed(drop: float, disc: Discordance, level: float, power: float = POWER_TARGET) -> int | None:
    """About how many paired cases (to 1%) detect `drop` with probability `power` (None: over ten million)."""
    if drop <= 0.0 or drop > disc.mean:
        return None
    hi = 8
    while drop_power(hi, drop, disc, level) < power:
        hi *= 2
        if hi > _MAX_POWER_CASES:
            return None
    lo = hi // 2
    while hi - lo > max(1, hi // 100):  # the mid-p power is slightly saw-toothed in n
        mid = (lo + hi) // 2
        if drop_power(mid, drop, disc, level) >= power:
            hi = mid
        else:
            lo = mid
    return hi
