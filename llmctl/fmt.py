"""How numbers and times are shown: the one home for every screen and report.

The terminal, Markdown, HTML, JUnit, JSON, the viewer and the messages of commands
and evaluators all format through these functions, so the same figure reads the same
everywhere (a structural test, tests/test_fmt.py, keeps ad-hoc formatting out of
llmctl/). A leaf module: the standard library only.

- money: `usd` for an amount (a total, what a run spent, one result's cost): cents
  from $1 up, three significant digits below (`$0.0165`, `$0.009`);
  `usd_per_case` for a mean per case: a tiny one is shown per 1,000 (or 1,000,000)
  cases (`$9.00/1k`), the form the gate's cost rows use;
- `ms` (`1,234 ms`), `pct` (a rate, `66.7%`), `pts` (a difference of rates, `+5.0 pts`),
  `change` (a relative change, `+22%`), `interval` (always `[low, high]`),
  `p_value` (`<0.001`, `0.032`), `level` (a confidence level, `95%`), `count` (`1,234`), `score` (`0.857`),
  `number` (significant digits, never scientific notation), `duration` (`2:05`),
  `size` (`1.5 KB`);
- times: `time` is UTC ISO-8601 with `Z` (`2026-12-02T06:15:09Z`); a naive datetime
  is UTC (the store keeps naive UTC timestamps). `now` is the current time in that form.

Missing values (None, NaN) are shown as `MISSING`. A value that rounds to zero carries
no sign (`0 ms`, never `-0 ms`); `signed=True` adds `+` to a positive one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

MISSING = "—"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _sign(text: str, value: float, signed: bool) -> str:
    """`text` (of abs(value)) with the value's sign; none at all when it shows as zero."""
    if not any(ch in "123456789" for ch in text):
        return text
    if value < 0:
        return f"-{text}"
    return f"+{text}" if signed else text


def _strip(text: str, keep: int) -> str:
    """Trailing zeros after the point removed, keeping at least `keep` decimals."""
    if "." not in text:
        return text
    whole, frac = text.split(".")
    frac = frac.rstrip("0")
    frac = frac + "0" * (keep - len(frac)) if len(frac) < keep else frac
    return f"{whole}.{frac}" if frac else whole


def _signed(value: float | None, signed: bool, show: Callable[[float], str]) -> str:
    """`show` of the magnitude, with the sign when asked (and always a minus); missing as MISSING."""
    if _missing(value):
        return MISSING
    assert value is not None
    return _sign(show(abs(float(value))), float(value), signed)


def number(value: float | None, digits: int = 3) -> str:
    """`digits` significant digits in plain notation (`0.000123`, `12.3`); whole numbers stay whole (`1,234`)."""
    if _missing(value):
        return MISSING
    assert value is not None
    size = abs(float(value))
    if size == 0 or not math.isfinite(size):
        return "0" if size == 0 else str(value)
    decimals = max(digits - 1 - math.floor(math.log10(size)), 0)
    text = _strip(f"{size:,.{decimals}f}", 0)
    return _sign(text, value, False)


def _amount(size: float) -> str:
    """A non-negative USD amount without the sign."""
    if size == 0:
        return "$0"
    if size >= 1:
        return f"${size:,.2f}"
    decimals = max(2 - math.floor(math.log10(size)), 2)  # three significant digits
    text = f"{size:.{decimals}f}"
    return "$" + _strip(text, 2)


def usd(value: float | None, *, signed: bool = False) -> str:
    """An amount in USD: `$1,234.50`, `$1.20`, `$0.0165`, `$0.009`, `$0`."""
    if _missing(value):
        return MISSING
    assert value is not None
    return _sign(_amount(abs(float(value))), float(value), signed)


def usd_per_case(value: float | None, *, signed: bool = False) -> str:
    """A mean cost per case: as `usd` from a cent up; a tiny one per 1,000 cases (`$1.65/1k`),
    or per 1,000,000 below $0.00001 (`$12.30/1M`), so it never reads as `$0.0000`."""
    if _missing(value):
        return MISSING
    assert value is not None
    size = abs(float(value))
    if size == 0 or size >= 0.01:
        text = _amount(size)
    else:
        scale, unit = (1e3, "/1k") if size >= 1e-5 else (1e6, "/1M")
        text = _amount(size * scale) + unit
    return _sign(text, float(value), signed)


def ms(value: float | None, *, signed: bool = False) -> str:
    """Milliseconds: `1,234 ms`."""
    return _signed(value, signed, lambda a: f"{a:,.0f} ms")


def pct(value: float | None, *, signed: bool = False) -> str:
    """A rate (0..1) as a percentage with one decimal: `66.7%`."""
    return _signed(value, signed, lambda a: f"{a * 100:.1f}%")


def pts(value: float | None, *, signed: bool = True) -> str:
    """A difference of two rates in percentage points: `+5.0 pts`, `-12.5 pts`."""
    return _signed(value, signed, lambda a: f"{a * 100:.1f} pts")


def change(value: float | None) -> str:
    """A relative change (0.22 is 22% more) as a signed percentage: `+22%`, `-3.5%`, `0%`."""
    if _missing(value):
        return MISSING
    assert value is not None
    size = abs(float(value)) * 100
    if not math.isfinite(size):
        return "+∞%" if value > 0 else "-∞%"
    text = f"{size:.1f}" if size < 10 else f"{size:,.0f}"
    if not any(ch in "123456789" for ch in text):
        return "0%"
    return f"{'-' if value < 0 else '+'}{text}%"


def interval(bounds: Any, one: Callable[[float | None], str] = pct) -> str:
    """An interval, always `[low, high]`, each bound formatted by `one`: `[20.8%, 93.9%]`."""
    if bounds is None:
        return MISSING
    lo, hi = bounds
    return f"[{one(lo)}, {one(hi)}]"


def level(confidence: float) -> str:
    """A confidence level as set in config: `95%`, `99.5%`."""
    return f"{confidence * 100:g}%"


def p_value(p: float | None) -> str:
    """`<0.001`, else three decimals: `0.032`."""
    if _missing(p):
        return MISSING
    assert p is not None
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def count(n: float | None, *, signed: bool = False) -> str:
    """A count, whole, with thousands separators: `1,234`."""
    return _signed(n, signed, lambda a: f"{a:,.0f}")


def score(value: float | None, *, signed: bool = False) -> str:
    """A score (a mean, kappa, F1...) with three decimals: `0.857`."""
    return _signed(value, signed, lambda a: f"{a:.3f}")


def duration(seconds: float | None) -> str:
    """A duration as `m:ss` or `h:mm:ss`: `2:05`, `1:02:03`."""
    if _missing(seconds):
        return MISSING
    assert seconds is not None
    total = max(int(seconds + 0.5), 0)
    minutes, sec = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def size(nbytes: int) -> str:
    """A byte count: `512 B`, `1.5 KB`, `2.0 MB` (also in stored image placeholders: keep it stable)."""
    if nbytes < 1024:
        return f"{nbytes} B"
    if nbytes < 1024 * 1024:
        return f"{nbytes / 1024:.1f} KB"
    return f"{nbytes / (1024 * 1024):.1f} MB"


def time(value: Any) -> str:
    """A timestamp as UTC ISO-8601 with `Z`, to the second: `2026-12-02T06:15:09Z`.

    A naive datetime is UTC (the store's); an aware one is converted; text is parsed
    when it can be (and shown as it is when it cannot); a date is shown as `2026-12-02`.
    """
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, datetime):
        return str(value)
    moment: datetime = value
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def now() -> str:
    """The current time as `time` shows it."""
    return time(datetime.now(timezone.utc))


def json_default(value: Any) -> Any:
    """`json.dumps(default=...)` for reports and `--json`: datetimes as `time`, the rest as text."""
    if isinstance(value, (datetime, date)):
        return time(value)
    return str(value)
