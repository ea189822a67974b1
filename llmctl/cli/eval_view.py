"""Terminal output and report files for `llmctl eval` (and `llmctl report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmctl.cli import _common
from llmctl.config import Config


def _safe(text: Any) -> str:
    from llmctl.safetext import terminal_safe

    return terminal_safe(text)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def print_summary(summary: dict[str, Any], title: str) -> None:
    """The per prompt x model table: pass rate with its 95% interval, scores, cost, latency, errors."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(_safe(title)), title_justify="left")
    for col in ("prompt / model", "n", "pass rate (95% CI)", "cost", "p50", "p95", "cached", "errors"):
        table.add_column(col, justify="left" if col == "prompt / model" else "right")
    score_lines = []
    for g in summary.get("groups", []):
        lo, hi = g.get("pass_rate_ci") or (0.0, 0.0)
        name = f"{g['prompt']} / {g['model']}"
        table.add_row(
            Text(_safe(name)),
            str(g["n"]),
            f"{g['pass_rate']:.0%} ({lo:.0%}-{hi:.0%})",
            f"${g.get('cost_usd_total', 0.0):.4f}",
            _ms(g.get("latency_p50")),
            _ms(g.get("latency_p95")),
            str(g.get("cached", 0)),
            str(g.get("errors", 0)),
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
            Text(_safe(m.metric)),
            *(Text(_safe(cells[k])) for k in ("baseline", "candidate", "delta", "interval", "p_value", "threshold")),
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
    for m in verdict.metrics:
        if m.metric.startswith("critical[") and not m.passed:
            console.print(Text(f"critical check {_safe(m.metric[9:-1])} failed in {_safe(m.group)}:", style="bold red"))
            console.print(Text(f"  {_safe(m.note)}"))
    style = "bold green" if verdict.passed else "bold red"
    console.print(Text(_safe(verdict.summary_line()), style=style))


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
            for cause, count in getattr(info, "error_causes", [])[:5]:
                console.print(Text(f"  {count} x {_safe(cause)}", style="red"))
            for prompt, model, case_id in info.errors[:20]:
                console.print(Text(f"  {_safe(prompt)} / {_safe(model)} / {_safe(case_id)}"))
            if len(info.errors) > 20:
                more = len(info.errors) - 20
                console.print(f"  ... and {more} more (llmctl runs export {info.run_id} lists them all)")
            console.print(f"  complete them with: llmctl eval --resume {info.run_id}")


def combined_report(store: Any, infos: list[Any]) -> tuple[dict[str, Any], list[Any], Any]:
    """One report over the runs of one invocation (one per evalset): meta, outcomes, verdict."""
    from llmctl.gate import Verdict

    runs = [store.get_run(info.run_id) for info in infos]
    meta = (
        dict(runs[0])
        if len(runs) == 1
        else {
            "id": ", ".join(r["id"] for r in runs),
            "evalset": ", ".join(str(r.get("evalset")) for r in runs),
            "git_commit": runs[0].get("git_commit"),
            "git_branch": runs[0].get("git_branch"),
            "started_at": runs[0].get("started_at"),
            "runs": runs,
        }
    )
    outcomes = [o for info in infos for o in store.outcomes(info.run_id)]
    verdicts = [info.verdict for info in infos if info.verdict is not None]
    verdict = None
    if len(verdicts) == 1:
        verdict = verdicts[0]
    elif verdicts:
        counts: dict[str, int] = {}
        for v in verdicts:
            for k, n in v.counts.items():
                counts[k] = counts.get(k, 0) + n
        verdict = Verdict(
            passed=all(v.passed for v in verdicts),
            groups=[g for v in verdicts for g in v.groups],
            metrics=[m for v in verdicts for m in v.metrics],
            flipped=[f for v in verdicts for f in v.flipped],
            flaky=[f for v in verdicts for f in v.flaky],
            counts=counts,
            confidence=verdicts[0].confidence,
            has_baseline=any(v.has_baseline for v in verdicts),
            notes=[n for v in verdicts for n in v.notes],
        )
    return meta, outcomes, verdict


def write_outputs(cfg: Config, outcome: Any, outputs: list[Path]) -> None:
    """--output FILE: results (.jsonl .csv) or reports (.json .md .xml .html), by extension."""
    import os

    if not outcome.runs or not (outputs or os.environ.get("GITHUB_STEP_SUMMARY")):
        return
    from llmctl.reports import ReportData, append_step_summary, render_markdown, write_report
    from llmctl.store import Store

    store = Store(cfg.store_path)
    meta, outcomes, verdict = combined_report(store, outcome.runs)
    for path in outputs:
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".csv"):
            _export_results(store, [i.run_id for i in outcome.runs], path)
        else:
            write_report(path, meta, outcomes, verdict)
        _common.err_console().print(f"wrote {path}")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_step_summary(render_markdown(ReportData(run=meta, outcomes=outcomes, verdict=verdict)))


def _export_results(store: Any, run_ids: list[str], path: Path) -> None:
    """Results of every run of this invocation as one JSONL or CSV file."""
    import tempfile

    fmt = path.suffix.lower().lstrip(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(run_ids) == 1:
        store.export(run_ids[0], fmt, path)
        return
    with tempfile.TemporaryDirectory() as tmp, path.open("w", encoding="utf-8") as out:
        for i, run_id in enumerate(run_ids):
            part = Path(tmp) / f"{i}.{fmt}"
            store.export(run_id, fmt, part)
            with part.open(encoding="utf-8") as fh:
                if fmt == "csv" and i > 0:
                    fh.readline()  # one header only
                for line in fh:
                    out.write(line)
