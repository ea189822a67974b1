"""llmctl.fmt, the one home of number and time formats; and a scan that keeps it the only one."""

from __future__ import annotations

import ast
import math
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmctl import fmt

PACKAGE = Path(__file__).resolve().parents[1] / "llmctl"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "$0"),
        (0.0165, "$0.0165"),
        (0.009, "$0.009"),
        (0.5, "$0.50"),
        (0.123456, "$0.123"),
        (1.2, "$1.20"),
        (1234.5, "$1,234.50"),
        (0.0000123, "$0.0000123"),
        (-0.25, "-$0.25"),
        (None, "—"),
        (math.nan, "—"),
    ],
)
def test_usd_amounts_keep_three_significant_digits_below_a_dollar(value: float | None, shown: str) -> None:
    assert fmt.usd(value) == shown


def test_usd_on_one_screen_no_longer_mixes_precisions() -> None:
    """The issue's example: `$0.009000` next to `$0.0165`."""
    assert [fmt.usd(0.009), fmt.usd(0.0165)] == ["$0.009", "$0.0165"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.0, "$0"),
        (0.0165, "$0.0165"),
        (0.00165, "$1.65/1k"),
        (0.009, "$9.00/1k"),
        (0.0000123, "$0.0123/1k"),
        (0.00000123, "$1.23/1M"),
        (-0.002, "-$2.00/1k"),
    ],
)
def test_usd_per_case_shows_tiny_means_per_thousand_cases(value: float, shown: str) -> None:
    assert fmt.usd_per_case(value) == shown


def test_signs_and_zero() -> None:
    assert fmt.usd_per_case(0.002, signed=True) == "+$2.00/1k"
    assert fmt.ms(-0.2, signed=True) == "0 ms"  # rounds to zero: no sign, never "-0 ms"
    assert fmt.ms(1234.4) == "1,234 ms" and fmt.ms(-12, signed=True) == "-12 ms"
    assert fmt.pct(2 / 3) == "66.7%" and fmt.pct(1.0) == "100.0%" and fmt.pct(None) == "—"
    assert fmt.pts(-0.125) == "-12.5 pts" and fmt.pts(0.05) == "+5.0 pts" and fmt.pts(0.05, signed=False) == "5.0 pts"
    assert fmt.count(1234) == "1,234" and fmt.count(-2.0, signed=True) == "-2" and fmt.count(None) == "—"
    assert fmt.score(0.85714) == "0.857" and fmt.score(-0.0001) == "0.000" and fmt.score(0.5, signed=True) == "+0.500"


def test_relative_change_interval_and_p_value() -> None:
    assert fmt.change(0.22) == "+22%" and fmt.change(-0.035) == "-3.5%" and fmt.change(0.0001) == "0%"
    assert fmt.change(12.5) == "+1,250%" and fmt.change(None) == "—"
    # one interval notation everywhere, with each bound in its unit
    assert fmt.interval((0.208, 0.939)) == "[20.8%, 93.9%]"
    assert fmt.interval((-0.1, 0.3), fmt.change) == "[-10%, +30%]"
    assert fmt.interval(None) == "—"
    assert fmt.p_value(0.0004) == "<0.001" and fmt.p_value(0.0321) == "0.032" and fmt.p_value(None) == "—"
    assert fmt.level(0.95) == "95%" and fmt.level(0.995) == "99.5%"


def test_number_duration_size() -> None:
    assert fmt.number(0.000123456) == "0.000123" and fmt.number(0.0125) == "0.0125" and fmt.number(12.34) == "12.3"
    assert fmt.number(1234.5) == "1,234" and fmt.number(0) == "0" and fmt.number(0.05) == "0.05"
    assert fmt.duration(30) == "0:30" and fmt.duration(9999) == "2:46:39" and fmt.duration(None) == "—"
    assert fmt.size(69) == "69 B" and fmt.size(1536) == "1.5 KB" and fmt.size(3 * 1024 * 1024) == "3.0 MB"


def test_time_is_utc_iso_8601_with_z() -> None:
    assert fmt.time(datetime(2026, 12, 2, 6, 15, 9, 123456)) == "2026-12-02T06:15:09Z"  # the store's naive UTC
    aware = datetime(2026, 12, 2, 8, 15, 9, tzinfo=timezone(timedelta(hours=2)))
    assert fmt.time(aware) == "2026-12-02T06:15:09Z"
    assert fmt.time("2026-12-02 06:15:09.5") == "2026-12-02T06:15:09Z"
    assert fmt.time("2026-12-02T06:15:09Z") == "2026-12-02T06:15:09Z"  # the lockfile's form, unchanged
    assert fmt.time(date(2026, 12, 2)) == "2026-12-02"
    assert fmt.time(None) == "—" and fmt.time("not a time") == "not a time"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fmt.now())
    assert fmt.json_default(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_fmt_is_a_leaf_module() -> None:
    tree = ast.parse((PACKAGE / "fmt.py").read_text(encoding="utf-8"))
    imported = [
        n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module != "__future__"
    ] + [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.split(".")[0] == "llmctl"], imported


# --- the scan -----------------------------------------------------------------------------------

# A precision in a format spec: `{x:.4f}`, `{x:,.0f}`, `{x:.1%}`, `{x:+.3g}`; `%.3f` in templates.
_SPEC = re.compile(r"\.\d+[fFeEgG%]")
_BRACE_SPEC = re.compile(r"\{[^{}]*:[^{}]*\.\d+[fFeEgG%][^{}]*\}")
_PERCENT_SPEC = re.compile(r"%[-+ 0#]*\d*\.\d+[fFeEgG]")

# Legitimate non-display uses, each with its reason: (file under llmctl/, what is allowed).
ALLOWED = {
    ("store/_keys.py", "strftime"),  # run ids: r20261202-061509-abc123 (an identifier, not a display)
    ("store/_store.py", "isoformat"),  # datetimes inside JSON written to the store (storage, not display)
}


def _violations(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE).as_posix()
    found: list[str] = []
    if path.suffix == ".html":
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _PERCENT_SPEC.search(line) or "strftime" in line:
                found.append(f"{rel}:{no}: {line.strip()[:80]}")
        return found
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = "".join(v.value for v in ast.walk(node.format_spec) if isinstance(v, ast.Constant))
            if _SPEC.search(str(spec)):
                what = f"f-string spec {spec!r}"
        elif isinstance(node, ast.Attribute) and node.attr in ("strftime", "isoformat"):
            if (rel, node.attr) not in ALLOWED:
                what = f".{node.attr}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "format":
            if len(node.args) == 2 and isinstance(node.args[1], ast.Constant) and _SPEC.search(str(node.args[1].value)):
                what = f"format(..., {node.args[1].value!r})"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _BRACE_SPEC.search(node.value) or _PERCENT_SPEC.search(node.value):
                what = f"format string {node.value[:60]!r}"
        if what:
            found.append(f"{rel}:{getattr(node, 'lineno', '?')}: {what}")
    return found


def test_no_number_or_time_formatting_outside_fmt() -> None:
    """Every number and time on a screen goes through llmctl.fmt: no `:.4f`, `:.0%`, `:.3g`,
    `"%.3f"|format`, `.strftime(` or `.isoformat(` anywhere else in llmctl/ (see ALLOWED).
    Plain `{n:,}` counts and `{x:g}` echoes of a config value carry no precision and are allowed."""
    files = sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".html") and p.name != "fmt.py")
    assert len(files) > 100
    found = [v for p in files for v in _violations(p)]
    assert not found, "format through llmctl.fmt instead:\n" + "\n".join(found)


def test_the_scan_sees_what_it_forbids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan is not vacuous: each forbidden form is found."""
    pkg = tmp_path / "llmctl"
    pkg.mkdir()
    (pkg / "bad.py").write_text(
        'a = f"${cost:.6f}"\nb = f"{rate:.0%}"\nc = now.strftime("%Y")\nd = "{:.2f}".format(x)\n'
        'e = format(x, ".3g")\nf = f"{n:,}"\ng = f"{v:g}"\nh = t.isoformat()\n',
        encoding="utf-8",
    )
    (pkg / "page.html").write_text('<td>{{ "%.3f"|format(s) }}</td>\n', encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.PACKAGE", pkg)
    lines = sorted(int(v.split(":")[1]) for v in _violations(pkg / "bad.py"))
    assert lines == [1, 2, 3, 4, 5, 8]
    assert _violations(pkg / "page.html")
