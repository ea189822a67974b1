"""Number formatting shared by the report writers (text only, no escaping)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from llmctl.gate import MetricVerdict


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
    """A metric value for display: rates in %, costs in USD, latency in ms.

    Negative values carry a minus before the unit (`-$0.0012`); a value that rounds
    to zero carries no sign at all (`0 ms`, never `-0 ms`).
    """
    if value is None:
        return "—"
    kind = _kind(metric)
    size = abs(value)
    if kind == "rate":
        text = f"{size * 100:.1f}{' pts' if signed else '%'}"
    elif kind == "cost":
        text = _money(size)
    elif kind in ("ms", "count"):
        text = f"{size:.0f}{' ms' if kind == 'ms' else ''}"
    else:
        text = f"{size:.3f}"
    if not any(ch in "123456789" for ch in text):
        return text
    if value < 0:
        return f"-{text}"
    return f"+{text}" if signed else text


def _money(size: float) -> str:
    """USD with three significant digits; a tiny per-case cost is shown per 1,000 (or 1,000,000) cases."""
    if size == 0 or size >= 0.01:
        return f"${size:.4f}"
    scale, unit = (1e3, "/1k") if size >= 1e-5 else (1e6, "/1M")
    return f"${size * scale:.3g}{unit}"


def fmt_change(change: float | None) -> str:
    """A relative change as a signed percentage (`+22%`, `-3.5%`, `0%`)."""
    if change is None:
        return "—"
    pct = change * 100
    text = f"{abs(pct):.1f}" if abs(pct) < 10 else f"{abs(pct):.0f}"
    if not any(ch in "123456789" for ch in text):
        return "0%"
    return f"{'-' if pct < 0 else '+'}{text}%"


def fmt_interval(metric: str, interval: tuple[float, float] | None, *, signed: bool = True) -> str:
    if interval is None:
        return "—"
    lo, hi = interval
    return f"[{fmt_value(metric, lo, signed=signed)}, {fmt_value(metric, hi, signed=signed)}]"


def _fmt_change_interval(interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "—"
    return f"[{fmt_change(interval[0])}, {fmt_change(interval[1])}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


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
        "delta": fmt_change(m.delta) if m.relative else fmt_value(m.metric, m.delta, signed=True),
        "interval": (
            _fmt_change_interval(m.interval) if m.relative else fmt_interval(m.metric, m.interval, signed=signed)
        ),
        "p_value": fmt_p(m.p_value),
        "threshold": m.threshold,
        "result": "PASS" if m.passed else "FAIL",
        "note": m.note,
    }


def fmt_case_rate(f: Any) -> str:
    """A flaky case's pass rate over its samples with its interval: `66.7% [20.8%, 93.9%]`."""
    text = fmt_rate(f.passes / f.samples if f.samples else None)
    if f.interval is not None:
        text += f" [{fmt_rate(f.interval[0])}, {fmt_rate(f.interval[1])}]"
    return text


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def fmt_usd(value: float | None) -> str:
    if value is None:
        return "—"
    return ("-" if value < 0 else "") + _money(abs(value))


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


def fmt_time(value: Any) -> str:
    """A timestamp as UTC ISO-8601 with `Z` (`2026-12-02T06:15:09Z`), the one form every screen uses.

    The store keeps naive UTC timestamps; aware ones are converted; text is parsed when it can be.
    """
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"
