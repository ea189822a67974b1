"""`llmctl monitor`: drift of production traces, a window against the reference window just before it.

Per prompt x model, each metric is compared by a one-sided test of "worse in the window":

- error rate: Fisher's exact test on the 2x2 table of errors and successes (SciPy `fisher_exact`);
- latency p95 (successful calls): Mood's quantile test, i.e. Fisher's exact test on the calls above
  and below the pooled sample's 95th percentile (exact under no change, whatever the distribution);
- cost per 1k tokens and cost per call: Mann-Whitney U on the per-call values (SciPy `mannwhitneyu`);
- each `monitor.evaluators` pass rate, on a seeded sample of `sample` traces per window: Fisher's
  exact test on passes and fails.

Every test of the run (all prompts, models and metrics) is one family under Holm's step-down
(`llmctl.stats.holm`, the gate's), at level 1 - `monitor.confidence`: the chance of any false
alarm on no-change traffic stays at or below 5% per run (benchmarks/monitor_sim.py measures it).
A check alarms when it is significant and its effect is past its threshold; exit 1 then.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from llmctl import fmt
from llmctl.errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|w)\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SPARK = "▁▂▃▄▅▆▇█"


def parse_duration(text: str, option: str) -> timedelta:
    """`7d`, `24h`, `90m`, `2w` as a timedelta (InputError naming the option otherwise)."""
    m = _DURATION.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"{option} must be a duration like 7d, 24h, 90m or 2w, got {text!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_until(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--until must be an ISO-8601 time (2026-11-30 or 2026-11-30T12:00Z), got {text!r}") from None
    if parsed.tzinfo is not None:
        from datetime import timezone

        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def sparkline(values: list[float | None]) -> str:
    """One character per value, scaled between the series' min and max (blank where missing)."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            out.append(SPARK[int((v - lo) / span * (len(SPARK) - 1)) if span > 0 else 0])
    return "".join(out)


@dataclass
class Check:
    """One comparison of a metric between the reference window and the window."""

    metric: str
    reference: float | None
    window: float | None
    change: float | None  # relative (latency, cost) or absolute (rates)
    threshold: float | None  # None: report only, not tested
    test: str = ""
    p_value: float | None = None
    exceeds: bool = False
    significant: bool = False
    alarm: bool = False
    note: str = ""


@dataclass
class Group:
    prompt: str | None
    model: str | None
    window: dict[str, Any]
    reference: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)

    @property
    def alarms(self) -> list[Check]:
        return [c for c in self.checks if c.alarm]


@dataclass
class MonitorReport:
    until: datetime | None
    window: tuple[datetime, datetime] | None
    reference: tuple[datetime, datetime] | None
    confidence: float
    groups: list[Group]
    tests: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def alarms(self) -> int:
        return sum(len(g.alarms) for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return fmt.time(t) if t is not None else None

        return {
            "until": iso(self.until),
            "window": {"start": iso(self.window[0]), "end": iso(self.window[1])} if self.window else None,
            "reference": {"start": iso(self.reference[0]), "end": iso(self.reference[1])} if self.reference else None,
            "confidence": self.confidence,
            "tests": self.tests,
            "alarms": self.alarms,
            "passed": self.alarms == 0,
            "notes": self.notes,
            "groups": [
                {
                    "prompt": g.prompt,
                    "model": g.model,
                    "window": g.window,
                    "reference": g.reference,
                    "checks": [asdict(c) for c in g.checks],
                    "daily": g.daily,
                }
                for g in self.groups
            ],
        }


def _side(row: dict[str, Any] | None) -> dict[str, Any]:
    import numpy as np

    if row is None:
        return {
            "calls": 0,
            "errors": 0,
            "error_rate": None,
            "cost_per_1k": None,
            "cost_per_call": None,
            "p50_ms": None,
            "p95_ms": None,
            "_lat": np.array([]),
            "_cost": np.array([]),
            "_per1k": np.array([]),
        }
    lat = np.asarray(row["latencies"] or [], dtype=float)
    calls = int(row["calls"])
    tokens = row["tokens"] or 0
    return {
        "calls": calls,
        "errors": int(row["errors"]),
        "error_rate": row["errors"] / calls if calls else None,
        "cost_per_1k": (row["cost"] or 0.0) * 1000.0 / tokens if tokens else None,
        "cost_per_call": (row["cost"] / row["priced"]) if row["priced"] else None,
        "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
        "p95_ms": float(np.percentile(lat, 95)) if lat.size else None,
        "_lat": lat,
        "_cost": np.asarray(row["costs"] or [], dtype=float),
        "_per1k": np.asarray(row["per_1k"] or [], dtype=float),
    }


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b - 1.0


def _fisher_worse(bad_w: int, n_w: int, bad_r: int, n_r: int) -> float:
    from scipy.stats import fisher_exact

    if n_w == 0 or n_r == 0:
        return 1.0
    _, p = fisher_exact([[bad_w, n_w - bad_w], [bad_r, n_r - bad_r]], alternative="greater")
    return float(p)


def _mood_p95(window: Any, reference: Any) -> float:
    """Mood's quantile test at the pooled 95th percentile: is the window's share above it larger?"""
    import numpy as np

    pooled = np.concatenate([window, reference])
    q = float(np.percentile(pooled, 95))
    return _fisher_worse(int((window > q).sum()), int(window.size), int((reference > q).sum()), int(reference.size))


def _mann_whitney_worse(window: Any, reference: Any) -> float:
    from scipy.stats import mannwhitneyu

    if window.size == 0 or reference.size == 0:
        return 1.0
    if float(window.min()) == float(window.max()) == float(reference.min()) == float(reference.max()):
        return 1.0  # all equal: no evidence of a change (SciPy would divide by a zero variance)
    return float(mannwhitneyu(window, reference, alternative="greater").pvalue)


def _checks(w: dict[str, Any], r: dict[str, Any], cfg: Any) -> list[Check]:
    enough = w["calls"] >= cfg.min_calls and r["calls"] >= cfg.min_calls
    out: list[Check] = []

    def add(metric: str, ref: Any, win: Any, change: Any, threshold: Any, test: str, p: Any) -> None:
        c = Check(metric, ref, win, change, threshold, test if threshold is not None and enough else "")
        if threshold is not None and enough and p is not None:
            c.p_value = p() if callable(p) else p
            c.exceeds = change is not None and change > threshold
        elif not enough:
            c.note = f"fewer than {cfg.min_calls} calls in a window: not tested"
        out.append(c)

    ew = w["error_rate"]
    er = r["error_rate"]
    add(
        "error_rate",
        er,
        ew,
        None if ew is None or er is None else ew - er,
        cfg.errors_max_rate_increase,
        "Fisher exact (errors)",
        lambda: _fisher_worse(w["errors"], w["calls"], r["errors"], r["calls"]),
    )
    lat_ok = w["_lat"].size >= cfg.min_calls and r["_lat"].size >= cfg.min_calls
    add(
        "latency_p95_ms",
        r["p95_ms"],
        w["p95_ms"],
        _rel(w["p95_ms"], r["p95_ms"]),
        cfg.latency_p95_max_increase,
        "Mood quantile test at the pooled p95",
        (lambda: _mood_p95(w["_lat"], r["_lat"])) if lat_ok else None,
    )
    out.append(Check("latency_p50_ms", r["p50_ms"], w["p50_ms"], _rel(w["p50_ms"], r["p50_ms"]), None))
    per1k_ok = w["_per1k"].size >= cfg.min_calls and r["_per1k"].size >= cfg.min_calls
    add(
        "cost_per_1k",
        r["cost_per_1k"],
        w["cost_per_1k"],
        _rel(w["cost_per_1k"], r["cost_per_1k"]),
        cfg.cost_per_1k_max_increase,
        "Mann-Whitney U (per call)",
        (lambda: _mann_whitney_worse(w["_per1k"], r["_per1k"])) if per1k_ok else None,
    )
    cost_ok = w["_cost"].size >= cfg.min_calls and r["_cost"].size >= cfg.min_calls
    add(
        "cost_per_call",
        r["cost_per_call"],
        w["cost_per_call"],
        _rel(w["cost_per_call"], r["cost_per_call"]),
        cfg.cost_per_call_max_increase,
        "Mann-Whitney U",
        (lambda: _mann_whitney_worse(w["_cost"], r["_cost"])) if cost_ok else None,
    )
    return out


def monitor(
    cfg: Any,
    store: Any,
    *,
    prompt: str | None = None,
    window: str = "7d",
    reference: str = "28d",
    until: str | None = None,
    evaluate: Any = None,
) -> MonitorReport:
    """Compare the window with the reference window before it, per prompt x model (see module docstring).

    `evaluate(specs, rows) -> list[dict name -> bool|None]` scores sampled traces (default:
    `llmctl.traces._evaluate.score_traces`).
    """
    from llmctl import stats
    from llmctl.store import monitor_daily, monitor_groups, newest_trace_ts
    from llmctl.traces._evaluate import check_monitor_evaluators

    mon = cfg.monitor
    problems = check_monitor_evaluators(mon)
    if problems:
        raise problems[0]
    win = parse_duration(window, "--window")
    ref = parse_duration(reference, "--reference")
    end = parse_until(until) if until else newest_trace_ts(store, prompt)
    if end is None:
        return MonitorReport(None, None, None, mon.confidence, [], notes=["no traces in the store yet"])
    w_start, r_start = end - win, end - win - ref
    rows = monitor_groups(store, r_start, w_start, end, prompt)
    sides: dict[tuple[Any, Any], dict[bool, dict[str, Any]]] = {}
    for row in rows:
        sides.setdefault((row["prompt"], row["model"]), {})[bool(row["in_window"])] = row
    daily_rows = monitor_daily(store, r_start, end, prompt)
    groups: list[Group] = []
    for (p, m), by in sorted(sides.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        w, r = _side(by.get(True)), _side(by.get(False))
        g = Group(p, m, _public(w), _public(r), _checks(w, r, mon))
        g.daily = _daily([d for d in daily_rows if d["prompt"] == p and d["model"] == m])
        groups.append(g)
    if mon.evaluators and groups:
        if evaluate is None:
            from llmctl.traces._evaluate import score_traces

            def evaluate(specs: Any, rows: Any) -> Any:
                return score_traces(specs, rows, cfg)

        _evaluator_checks(groups, store, mon, (r_start, w_start, end), evaluate)
    family = [c for g in groups for c in g.checks if c.p_value is not None]
    alpha = 1.0 - mon.confidence
    rejected = stats.holm([float(c.p_value or 1.0) for c in family], [1.0] * len(family), alpha) if family else []
    for c, rej in zip(family, rejected, strict=True):
        c.significant = rej
        c.alarm = rej and c.exceeds
        c.note = (
            "significant and past the threshold"
            if c.alarm
            else "significant but within the threshold"
            if rej
            else "past the threshold but not significant"
            if c.exceeds
            else ""
        )
    report = MonitorReport(end, (w_start, end), (r_start, w_start), mon.confidence, groups, tests=len(family))
    if family:
        report.notes.append(f"Holm over {len(family)} test(s) at family-wise level {alpha:g}")
    return report


def _public(side: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in side.items() if not k.startswith("_")}


def _daily(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per day (all versions together) and per day x version."""
    days: dict[Any, dict[str, Any]] = {}
    for d in rows:
        day = days.setdefault(d["day"], {"day": fmt.time(d["day"].date()), "calls": 0, "versions": {}})
        day["calls"] += d["calls"]
        day["versions"][d["version"] or "-"] = {
            "calls": d["calls"],
            "error_rate": d["error_rate"],
            "p50_ms": d["p50"],
            "p95_ms": d["p95"],
            "cost_per_1k": (d["cost"] or 0) * 1000.0 / d["tokens"] if d["tokens"] else None,
        }
    out = []
    for day in days.values():
        versions = day["versions"].values()
        calls = sum(v["calls"] for v in versions) or 1
        day["error_rate"] = sum((v["error_rate"] or 0) * v["calls"] for v in versions) / calls
        p95s = [v["p95_ms"] for v in versions if v["p95_ms"] is not None]
        day["p95_ms"] = max(p95s) if len(p95s) > 1 else (p95s[0] if p95s else None)
        costs = [v["cost_per_1k"] for v in versions if v["cost_per_1k"] is not None]
        day["cost_per_1k"] = sum(costs) / len(costs) if costs else None
        out.append(day)
    return out


def _evaluator_checks(groups: list[Group], store: Any, mon: Any, bounds: tuple[Any, Any, Any], evaluate: Any) -> None:
    """Score a seeded sample of each window's traces with `monitor.evaluators`, and test the pass rates."""
    from llmctl.store import monitor_sample

    r_start, w_start, end = bounds
    for g in groups:
        rates: dict[bool, dict[str, tuple[int, int]]] = {}
        for in_window, lo, hi in ((True, w_start, end), (False, r_start, w_start)):
            rows = monitor_sample(store, g.prompt, g.model, lo, hi, str(mon.seed), mon.sample)
            verdicts = evaluate(mon.evaluators, rows) if rows else []
            counts: dict[str, tuple[int, int]] = {}
            for v in verdicts:
                for name, passed in v.items():
                    if passed is None:
                        continue
                    ok, n = counts.get(name, (0, 0))
                    counts[name] = (ok + (1 if passed else 0), n + 1)
            rates[in_window] = counts
        names = sorted(set(rates[True]) | set(rates[False]))
        for name in names:
            ok_w, n_w = rates[True].get(name, (0, 0))
            ok_r, n_r = rates[False].get(name, (0, 0))
            pw = ok_w / n_w if n_w else None
            pr = ok_r / n_r if n_r else None
            c = Check(f"pass_rate:{name}", pr, pw, None if pw is None or pr is None else pr - pw, mon.quality_max_drop)
            if mon.quality_max_drop is not None and n_w >= mon.min_calls and n_r >= mon.min_calls:
                c.test = f"Fisher exact (fails), {n_w}/{n_r} sampled"
                c.p_value = _fisher_worse(n_w - ok_w, n_w, n_r - ok_r, n_r)
                c.exceeds = c.change is not None and c.change > mon.quality_max_drop
            else:
                c.note = f"{n_w}/{n_r} scored traces: fewer than {mon.min_calls}, not tested"
            g.checks.append(c)
            g.window[f"pass_rate:{name}"] = pw
            g.reference[f"pass_rate:{name}"] = pr


PASS_RATE_SAMPLE_PER_DAY = 50


def daily_pass_rates(
    cfg: Any, store: Any, report: MonitorReport, *, prompt: str | None = None, per_day: int = PASS_RATE_SAMPLE_PER_DAY
) -> tuple[dict[tuple[Any, Any], dict[str, dict[str, dict[str, list[int]]]]], list[str]]:
    """Pass rates of `monitor.evaluators` by day and prompt version, for the viewer's charts.

    Per prompt x model and day, a seeded sample (`monitor.seed`) of up to `per_day` successful
    traces of the report's reference + window range is scored by the evaluators that call no
    model. Returns ({(prompt, model): {day: {version: {evaluator: [passed, scored]}}}}, names of
    the evaluators skipped because they call a model (a judge: `llmctl monitor` runs those)).
    """
    from llmctl.store import monitor_daily_sample
    from llmctl.traces._evaluate import score_local

    mon = cfg.monitor
    if not mon.evaluators or report.reference is None or report.window is None:
        return {}, []
    rows = monitor_daily_sample(store, str(mon.seed), report.reference[0], report.window[1], prompt, per_day)
    verdicts, skipped = score_local(mon.evaluators, rows)
    out: dict[tuple[Any, Any], dict[str, dict[str, dict[str, list[int]]]]] = {}
    for row, verdict in zip(rows, verdicts, strict=True):
        by_version = out.setdefault((row["prompt"], row["model"]), {}).setdefault(row["day"], {})
        counts = by_version.setdefault(row["version"] or "-", {})
        for name, passed in verdict.items():
            if passed is not None:
                tally = counts.setdefault(name, [0, 0])
                tally[0] += 1 if passed else 0
                tally[1] += 1
    return out, skipped
