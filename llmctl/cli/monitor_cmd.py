"""`llmctl monitor`: cost, latency, error and quality drift of production traces, tested statistically."""

from __future__ import annotations

import typer

from llmctl.cli import _common


def monitor(
    prompt: str = typer.Option(None, "--prompt", help="Only this prompt's traces."),
    window: str = typer.Option("7d", "--window", help="The window checked: 7d, 24h, 90m, 2w."),
    reference: str = typer.Option("28d", "--reference", help="The reference window just before it."),
    until: str = typer.Option(None, "--until", help="End of the window (ISO-8601, UTC); default: the newest trace."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Compare production traces of a window with the reference window before it, per prompt x model.

    Calls, error rate, cost per 1k tokens and per call, latency p50/p95 and the pass rate of
    `monitor.evaluators` (on a seeded sample of `monitor.sample` traces). Every comparison is a
    one-sided test, all of them under Holm's family-wise control at 1 - monitor.confidence.
    Exit 1 when a drift is significant and past its threshold (monitor: in llmctl.yaml), else 0.

    Example: llmctl monitor --prompt summarize --window 1d --reference 14d
    """
    from llmctl.store import Store
    from llmctl.traces._monitor import monitor as run_monitor

    cfg = _common.load_config()
    report = run_monitor(cfg, Store(cfg.store_path), prompt=prompt, window=window, reference=reference, until=until)
    if as_json:
        _common.echo_json(report.to_dict())
    else:
        _print(report)
    if report.alarms:
        raise typer.Exit(1)


def _cell(metric: str, value: float | None) -> str:
    from llmctl import fmt

    if value is None:
        return "-"
    if metric.endswith("_ms"):
        return fmt.ms(value)
    if metric.startswith("cost_per_1k"):
        return fmt.usd(value)
    if metric.startswith("cost"):
        return fmt.usd_per_case(value)
    return fmt.pct(value)


def _change(metric: str, value: float | None) -> str:
    from llmctl import fmt

    if value is None:
        return ""
    if metric == "error_rate" or metric.startswith("pass_rate"):
        return fmt.pts(value if metric == "error_rate" else -value)
    return fmt.change(value)


def _print(report) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table
    from rich.text import Text

    from llmctl import fmt
    from llmctl.safetext import terminal_safe
    from llmctl.traces._monitor import sparkline

    con = _common.console()
    if report.window is None:
        con.print("no traces in the store yet (llmctl traces import FILE)")
        return
    con.print(
        f"window {fmt.time(report.window[0])} .. {fmt.time(report.window[1])} against "
        f"{fmt.time(report.reference[0])} .. {fmt.time(report.reference[1])}"
    )
    for g in report.groups:
        title = f"{terminal_safe(g.prompt or '(no prompt)')} x {terminal_safe(g.model or '(no model)')}"
        calls = [d["calls"] for d in g.daily]
        p95 = [d.get("p95_ms") for d in g.daily]
        errs = [d.get("error_rate") for d in g.daily]
        table = Table(title=Text(title), title_justify="left")
        for col in ("metric", "reference", "window", "change", "threshold", "p", "verdict"):
            table.add_column(col)
        table.add_row("calls", fmt.count(g.reference["calls"]), fmt.count(g.window["calls"]), "", "", "", "")
        for c in g.checks:
            verdict = "ALARM" if c.alarm else ("ok" if c.p_value is not None else "report only")
            table.add_row(
                Text(terminal_safe(c.metric)),
                _cell(c.metric, c.reference),
                _cell(c.metric, c.window),
                _change(c.metric, c.change),
                ""
                if c.threshold is None
                else (fmt.pts(c.threshold) if "rate" in c.metric else fmt.pct(c.threshold, signed=True)),
                fmt.p_value(c.p_value) if c.p_value is not None else "",
                Text(verdict + (f": {c.note}" if c.note else ""), style="bold red" if c.alarm else ""),
            )
        con.print(table)
        con.print(f"  by day  calls {sparkline(calls)}  errors {sparkline(errs)}  p95 {sparkline(p95)}")
    for note in report.notes:
        con.print(note)
    con.print(f"{report.alarms} alarm(s)" if report.alarms else "no significant drift past a threshold")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
