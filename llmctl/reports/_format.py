"""Number formatting shared by the report writers (text only, no escaping)."""

from __future__ import annotations

from typing import Any

from llmctl.gate import MetricVerdict


def _kind(metric: str) -> str:
    if metric.startswith(("pass_rate", "min_pass_rate")):
        return "rate"
    if metric.startswith("cost"):
        return "cost"
    if metric.startswith("latency"):
        return "ms"
    if metric == "errors":
        return "count"
    return "score"


def fmt_value(metric: str, value: float | None, *, signed: bool = False) -> str:
    """A metric value for display: rates in %, costs in USD, latency in ms."""
    if value is None:
        return "—"
    kind = _kind(metric)
    sign = "+" if signed and value > 0 else ""
    if kind == "rate":
        return f"{sign}{value * 100:.1f}{' pts' if signed else '%'}"
    if kind == "cost":
        return f"{sign}${value:.6f}" if abs(value) < 0.01 else f"{sign}${value:.4f}"
    if kind == "ms":
        return f"{sign}{value:.0f} ms"
    if kind == "count":
        return f"{sign}{value:.0f}"
    return f"{sign}{value:.3f}"


def fmt_interval(metric: str, interval: tuple[float, float] | None, *, signed: bool = True) -> str:
    if interval is None:
        return "—"
    lo, hi = interval
    return f"[{fmt_value(metric, lo, signed=signed)}, {fmt_value(metric, hi, signed=signed)}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def metric_cells(m: MetricVerdict) -> dict[str, str]:
    """The display strings of one verdict row."""
    # A delta interval is signed; a no-baseline interval (Wilson) is around the value itself.
    signed = m.delta is not None
    return {
        "group": m.group,
        "metric": m.metric,
        "baseline": fmt_value(m.metric, m.baseline),
        "candidate": fmt_value(m.metric, m.candidate),
        "delta": fmt_value(m.metric, m.delta, signed=True),
        "interval": fmt_interval(m.metric, m.interval, signed=signed),
        "p_value": fmt_p(m.p_value),
        "threshold": m.threshold,
        "result": "PASS" if m.passed else "FAIL",
        "note": m.note,
    }


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def fmt_usd(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:.6f}" if abs(value) < 0.01 else f"${value:.4f}"


def summary_cells(r: Any) -> list[str]:
    """The numeric cells of one summary row (a `SummaryRow`), after its prompt and model."""
    ci = f"[{fmt_rate(r.pass_rate_interval[0])}, {fmt_rate(r.pass_rate_interval[1])}]" if r.pass_rate_interval else "—"
    return [
        str(r.cases),
        str(r.results),
        fmt_rate(r.pass_rate),
        ci,
        str(r.errors),
        fmt_usd(r.mean_cost_usd),
        fmt_ms(r.latency_p50_ms),
        fmt_ms(r.latency_p95_ms),
        str(r.cached),
        str(r.flaky),
    ]
