"""`llmctl diff A B`: what changed in the template, and what that did to the results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from llmctl.cli import _common

if TYPE_CHECKING:
    from rich.console import Console

    from llmctl.diffing import DiffReport, PromptDiff, ResultDiff

from llmctl.safetext import terminal_safe

_LINE_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def _clip(text: str | None, limit: int = 400) -> str:
    text = terminal_safe(text if text is not None else "(no output)")
    return text if len(text) <= limit else text[:limit] + " ..."


def print_template_diff(con: Console, pd: PromptDiff) -> None:
    from rich.text import Text

    if not pd.changed:
        con.print(Text(f"  identical content ({pd.a.hash[:19]})", style="dim"))
        return
    for line in pd.diff:
        body = terminal_safe(line.rstrip("\n"))
        style = next((s for prefix, s in _LINE_STYLES if line.startswith(prefix)), "")
        con.print(Text(body, style=style), soft_wrap=True)


def print_results(con: Console, pd: PromptDiff, result: ResultDiff) -> None:
    from rich.table import Table
    from rich.text import Text

    verdict = result.verdict
    title = f"{pd.name} on evalset {result.evalset}: {result.a_run} (A) -> {result.b_run} (B)"
    from llmctl.cli._tables import Column, print_table
    from llmctl.reports._format import metric_cells

    drops = {"p": 3, "interval": 2, "delta": 1}
    names = ("group", "metric", "A", "B", "delta", "interval", "p", "gate")
    columns = [Column(col, drop=drops.get(col, 0), fold=col == "group") for col in names]
    rows = []
    for m in verdict.metrics:
        gate = "ok" if m.passed else "FAIL"
        cells = metric_cells(m)
        rows.append(
            [
                Text(terminal_safe(m.group)),
                Text(terminal_safe(m.metric)),
                Text(cells["baseline"]),
                Text(cells["candidate"]),
                Text(cells["delta"]),
                Text(cells["interval"]),
                Text(cells["p_value"]),
                Text(gate if m.threshold != "report only" else "-", style="" if m.passed else "bold red"),
            ]
        )
    print_table(con, columns, rows, title=Text(terminal_safe(title)))
    con.print(Text(terminal_safe(verdict.summary_line())))
    flipped = sorted(verdict.flipped, key=lambda f: (f.direction != "pass->fail", f.model, f.case_id))
    if flipped:
        cases = Table(title="cases that changed verdict", title_justify="left", show_lines=True)
        for col in ("case", "model", "change", "A output", "B output"):
            cases.add_column(col, overflow="fold")
        for f in flipped:
            style = "red" if f.direction == "pass->fail" else "green"
            cases.add_row(
                Text(terminal_safe(f.case_id)),
                Text(terminal_safe(f.model)),
                Text(f.direction, style=style),
                Text(_clip(f.baseline_output)),
                Text(_clip(f.candidate_output)),
            )
        con.print(cases)
    for note in verdict.notes:
        con.print(Text("  note: " + terminal_safe(note), style="dim"))


def print_report(con: Console, report: DiffReport) -> None:
    from rich.text import Text

    for pd in report.prompts:
        con.print(Text(terminal_safe(f"== {pd.name}: {pd.a.label} -> {pd.b.label}"), style="bold"))
        print_template_diff(con, pd)
        for result in pd.results:
            print_results(con, pd, result)
        for note in pd.notes:
            con.print(Text("  " + terminal_safe(note), style="yellow"))
        if not pd.results and pd.changed:
            con.print(Text("  (template diff only; `llmctl diff --run` evaluates the missing side)", style="dim"))
    if report.only_in_a:
        con.print(Text(terminal_safe(f"only in {report.a.spec}: {', '.join(report.only_in_a)}"), style="dim"))
    if report.only_in_b:
        con.print(Text(terminal_safe(f"only in {report.b.spec}: {', '.join(report.only_in_b)}"), style="dim"))


def diff(
    a: str = typer.Argument(..., help="Old side: v3, production, main, HEAD~2, WORKTREE, NAME@REF, or a run id."),
    b: str = typer.Argument("WORKTREE", help="New side (default: WORKTREE)."),
    run: bool = typer.Option(False, "--run", help="Evaluate whichever side has no run yet (calls models)."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    context: int = typer.Option(3, "--context", "-U", min=0, help="Lines of context in the template diff."),
) -> None:
    """Template diff plus results diff (quality, cost, latency, flipped cases) between two versions or runs.

    Example: llmctl diff summarize@production summarize@WORKTREE
    """
    from llmctl import diffing, release

    cfg = _common.load_config()
    store = release.open_store(cfg)
    report = diffing.diff(cfg, a, b, store=store, run_missing=run, context=context)
    if as_json:
        _common.echo_json(report.to_dict())
        return
    print_report(_common.console(), report)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)
