"""The display cells of gate rows and summary rows, shared by every report writer and the
terminal (text only, no escaping). The numbers themselves are formatted by `llmctl.fmt`."""

from __future__ import annotations

from typing import Any

from llmctl import fmt
from llmctl.summary import GroupSummary
from llmctl.verdict import MetricVerdict


def _kind(metric: str) -> str:
    if metric.startswith(("pass_rate", "min_pass_rate")):
        return "rate"
    if metric.startswith("cost"):
        return "cost"
    if metric.startswith("latency"):
        return "ms"
    if metric in ("errors", "flaky_cases") or metric.startswith("critical["):
        return "count"
    return "score"


def fmt_value(metric: str, value: float | None, *, signed: bool = False) -> str:
    """A metric value for display: rates in % (differences in pts), costs per case in USD,
    latency in ms, counts whole, scores with three decimals.

    Negative values carry a minus before the unit (`-$0.0012`); a value that rounds
    to zero carries no sign at all (`0 ms`, never `-0 ms`).
    """
    kind = _kind(metric)
    if kind == "rate":
        return fmt.pts(value, signed=True) if signed else fmt.pct(value)
    if kind == "cost":
        return fmt.usd_per_case(value, signed=signed)
    if kind == "ms":
        return fmt.ms(value, signed=signed)
    if kind == "count":
        return fmt.count(value, signed=signed)
    return fmt.score(value, signed=signed)


def fmt_interval(metric: str, interval: tuple[float, float] | None, *, signed: bool = True) -> str:
    return fmt.interval(interval, lambda x: fmt_value(metric, x, signed=signed))


def not_compared(m: MetricVerdict) -> bool:
    """A checked row with no values on either side: the check could not run (and passed), as a
    latency check with too few fresh calls. Every screen shows it as "skipped", not PASS."""
    return bool(m.passed) and m.baseline is None and m.candidate is None and not m.metric.startswith("critical[")


def metric_cells(m: MetricVerdict) -> dict[str, str]:
    """The display strings of one verdict row."""
    # A delta interval is signed; a no-baseline interval (Wilson) is around the value itself.
    # A relative change (cost, latency) is shown in % next to a threshold in %.
    signed = m.delta is not None
    return {
        "group": m.group,
        "metric": m.metric,
        "baseline": fmt_value(m.metric, m.baseline),
        "candidate": fmt_value(m.metric, m.candidate),
        "delta": fmt.change(m.delta) if m.relative else fmt_value(m.metric, m.delta, signed=True),
        "interval": (
            fmt.interval(m.interval, fmt.change) if m.relative else fmt_interval(m.metric, m.interval, signed=signed)
        ),
        "p_value": fmt.p_value(m.p_value),
        "threshold": m.threshold,
        "result": "skipped" if not_compared(m) else ("PASS" if m.passed else "FAIL"),
        "note": m.note,
    }


def fmt_case_rate(f: Any) -> str:
    """A flaky case's pass rate over its samples with its interval: `66.7% [20.8%, 93.9%]`."""
    text = fmt.pct(f.passes / f.samples if f.samples else None)
    if f.interval is not None:
        text += f" {fmt.interval(f.interval)}"
    return text


SUMMARY_COLUMNS = (
    "cases",
    "results",
    "pass rate",
    "95% CI",
    "errors",
    "mean cost",
    "p50",
    "p95",
    "cached",
    "flaky",
)


def summary_cells(g: GroupSummary) -> list[str]:
    """The cells of one summary row (`SUMMARY_COLUMNS`), after its evalset, prompt and model."""
    return [
        fmt.count(g.cases),
        fmt.count(g.n),
        fmt.pct(g.pass_rate),
        fmt.interval(g.pass_rate_ci),
        fmt.count(g.errors),
        fmt.usd_per_case(g.cost_usd_mean),
        fmt.ms(g.latency_p50),
        fmt.ms(g.latency_p95),
        fmt.count(g.cached),
        fmt.count(g.flaky),
    ]
