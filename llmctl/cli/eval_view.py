"""Terminal output and report files for `llmctl eval` (and `llmctl report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmctl.cli import _common
from llmctl.config import Config


def _safe(text: Any) -> str:
    from llmctl.reports import terminal_safe

    return terminal_safe(text)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def print_summary(summary: dict[str, Any], title: str) -> None:
    """The per prompt x model table: pass rate with its 95% interval, scores, cost, latency, errors."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left")
    for col in ("prompt / model", "n", "pass rate (95% CI)", "cost", "p50", "p95", "cached", "errors"):
        table.add_column(col, justify="left" if col == "prompt / model" else "right")
    score_lines = []
    for g in summary.get("groups", []):
        lo, hi = g.get("pass_rate_ci") or (0.0, 0.0)
        name = f"{g['prompt']} / {g['model']}"
        table.add_row(
            Text(_safe(name)), str(g["n"]), f"{g['pass_rate']:.0%} ({lo:.0%}-{hi:.0%})",
            f"${g.get('cost_usd_total', 0.0):.4f}", _ms(g.get("latency_p50")), _ms(g.get("latency_p95")),
            str(g.get("cached", 0)), str(g.get("errors", 0)),
        )
        scores = ", ".join(f"{k} {v:.2f}" for k, v in (g.get("scores") or {}).items())
        if scores:
            score_lines.append(f"  {name}: mean scores {scores}")
    _common.console().print(table)
    for line in score_lines:
        _common.console().print(Text(_safe(line)))


def print_verdict(verdict: Any) -> None:
    """Every gated metric with baseline, candidate, delta, interval, threshold and PASS/FAIL; flipped cases."""
    from rich.table import Table
    from rich.text import Text

    from llmctl.reports._format import metric_cells

    console = _common.console()
    if verdict is None:
        return
    table = Table(title="gate", title_justify="left")
    for col in ("group", "metric", "baseline", "candidate", "delta", "interval", "p", "threshold", "verdict"):
        table.add_column(col)
    for m in verdict.metrics:
        cells = metric_cells(m)
        if cells["threshold"] == "report only":
            status = Text("info", style="dim")
        else:
            status = Text("PASS", style="green") if m.passed else Text("FAIL", style="bold red")
        table.add_row(
            Text(_safe(m.group)),
            m.metric,
            cells["baseline"],
            cells["candidate"],
            cells["delta"],
            cells["interval"],
            cells["p_value"],
            cells["threshold"],
            status,
        )
    console.print(table)
    flips = [f for f in verdict.flipped if f.direction == "pass->fail"]
    if flips:
        console.print(Text(f"{len(flips)} case(s) flipped pass -> fail:", style="bold red"))
        for f in flips[:20]:
            console.print(Text(f"  {_safe(f.prompt)} / {_safe(f.model)} / {_safe(f.case_id)}"))
            console.print(Text(f"    before: {_safe(f.baseline_output)[:160]!r}"))
            console.print(Text(f"    after:  {_safe(f.candidate_output)[:160]!r}"))
        if len(flips) > 20:
            console.print(f"  ... and {len(flips) - 20} more (see the report)")
    for flaky in getattr(verdict, "flaky", [])[:10]:
        console.print(
            Text(f"  flaky: {_safe(flaky.prompt)} / {_safe(flaky.model)} / {_safe(flaky.case_id)}", style="yellow")
        )
    style = "bold green" if verdict.passed else "bold red"
    console.print(Text(verdict.summary_line(), style=style))


def print_outcome(cfg: Config, outcome: Any) -> None:
    for info in outcome.runs:
        title = f"{info.evalset}  run {info.run_id}"
        if info.baseline_run_id:
            title += f"  (baseline run {info.baseline_run_id})"
        print_summary(info.summary, title)
        print_verdict(info.verdict)
        if info.errors:
            console = _common.console()
            from rich.text import Text

            console.print(Text(f"{len(info.errors)} case(s) have no result after retries (exit 3):", style="bold red"))
            for prompt, model, case_id in info.errors[:20]:
                console.print(Text(f"  {_safe(prompt)} / {_safe(model)} / {_safe(case_id)}"))
            console.print(f"  complete them with: llmctl eval --resume {info.run_id}")


def report_data_for(store: Any, info: Any) -> Any:
    from llmctl.reports import ReportData

    run = store.get_run(info.run_id)
    return ReportData(run=run, outcomes=store.outcomes(info.run_id), verdict=info.verdict)


def write_outputs(cfg: Config, outcome: Any, outputs: list[Path]) -> None:
    """--output FILE: results (.jsonl .csv) or reports (.json .md .xml .html), by extension."""
    if not outcome.runs:
        return
    import os

    from llmctl.reports import write_report
    from llmctl.store import Store

    store = Store(cfg.store_path)
    datas = [report_data_for(store, info) for info in outcome.runs]
    for path in outputs:
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".csv"):
            _export_results(store, [i.run_id for i in outcome.runs], path)
        else:
            write_report(path, datas)
        _common.err_console().print(f"wrote {path}")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        from llmctl.reports import append_step_summary

        append_step_summary(datas)


def _export_results(store: Any, run_ids: list[str], path: Path) -> None:
    import pyarrow as pa

    tables = [store.results_table(run_id) for run_id in run_ids]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        import json

        with path.open("w", encoding="utf-8") as fh:
            for row in table.to_pylist():
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
