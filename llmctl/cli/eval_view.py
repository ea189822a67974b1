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
    for col in ("prompt / model", "n", "pass rate (95% CI)", "spent", "p50", "p95", "cached", "errors"):
        table.add_column(col, justify="left" if col == "prompt / model" else "right")
    score_lines = []
    for g in summary.get("groups", []):
        lo, hi = g.get("pass_rate_ci") or (0.0, 0.0)
        name = f"{g['prompt']} / {g['model']}"
        table.add_row(
            Text(_safe(name)),
            str(g["n"]),
            f"{g['pass_rate']:.0%} ({lo:.0%}-{hi:.0%})",
            _spent(g),
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
    if isinstance(summary.get("spend"), dict):
        from llmctl.spend import Spend, spend_line, tokens_line

        spend = Spend.from_dict(summary["spend"])
        _common.console().print(Text(spend_line(spend)))
        _common.console().print(Text(tokens_line(spend), style="dim"))


def _spent(group: dict[str, Any]) -> str:
    """A group's model spend (+ its judges'); a summary from before spend was kept shows its cost."""
    if "spent_usd" not in group:
        return f"${group.get('cost_usd_total', 0.0):.4f}"
    text = f"${group['spent_usd']:.4f}"
    if group.get("judge_usd"):
        text += f" + judge ${group['judge_usd']:.4f}"
    return text


def _not_compared(m: Any) -> bool:
    """A checked row with no values on either side: the check could not run (and passed)."""
    return bool(m.passed) and m.baseline is None and m.candidate is None and not m.metric.startswith("critical[")


def print_verdict(verdict: Any, *, verbose: bool = True) -> None:
    """Every checked metric with baseline, candidate, delta, interval, threshold and PASS/FAIL (report-only
    rows unless `verbose` is False, as `llmctl eval` without --verbose); flipped and flaky cases; the notes."""
    from rich.table import Table
    from rich.text import Text

    from llmctl.gate import REPORT_ONLY
    from llmctl.reports._format import fmt_case_rate, metric_cells

    console = _common.console()
    if verdict is None:
        return
    table = Table(title="gate", title_justify="left")
    for col in ("group", "metric", "baseline", "candidate", "delta", "interval", "p", "threshold", "verdict"):
        table.add_column(col)
    shown = [m for m in verdict.metrics if verbose or m.threshold != REPORT_ONLY]
    for m in shown:
        cells = metric_cells(m)
        if m.threshold == REPORT_ONLY:
            status = Text("info", style="dim")
        elif _not_compared(m):
            status = Text("skipped", style="dim")
        else:
            status = Text("PASS", style="green") if m.passed else Text("FAIL", style="bold red")
        table.add_row(
            Text(_safe(m.group)),
            Text(_safe(m.metric)),
            *(Text(_safe(cells[k])) for k in ("baseline", "candidate", "delta", "interval", "p_value", "threshold")),
            status,
        )
    if shown:
        console.print(table)
    for m in shown:
        if _not_compared(m) and m.note:  # e.g. latency with too few fresh results: say why
            console.print(Text(f"{_safe(m.group)} {_safe(m.metric)}: {_safe(m.note)}", style="dim"))
    hidden = len(verdict.metrics) - len(shown)
    if hidden:
        console.print(Text(f"{hidden} report-only row(s) not shown (--verbose shows them)", style="dim"))
    flips = [f for f in verdict.flipped if f.direction == "pass->fail"]
    if flips:
        console.print(Text(f"{len(flips)} case(s) flipped pass -> fail:", style="bold red"))
        for f in flips[:20]:
            console.print(Text(f"  {_safe(f.prompt)} / {_safe(f.model)} / {_safe(f.case_id)}"))
            console.print(Text(f"    before: {_safe(f.baseline_output)[:160]!r}"))
            console.print(Text(f"    after:  {_safe(f.candidate_output)[:160]!r}"))
        if len(flips) > 20:
            console.print(f"  ... and {len(flips) - 20} more (see the report)")
    flaky_cases = getattr(verdict, "flaky", [])
    if flaky_cases:
        console.print(Text(f"{len(flaky_cases)} flaky case(s) (verdicts differ across samples):", style="yellow"))
    for flaky in flaky_cases[:10]:
        where = f"{flaky.run}: {flaky.prompt} / {flaky.model} / {flaky.case_id}"
        console.print(Text(f"  {_safe(where)}  {fmt_case_rate(flaky)} passed", style="yellow"))
    if len(flaky_cases) > 10:
        console.print(f"  ... and {len(flaky_cases) - 10} more (see the report)")
    for m in verdict.metrics:
        if m.metric.startswith("critical[") and not m.passed:
            console.print(Text(f"critical check {_safe(m.metric[9:-1])} failed in {_safe(m.group)}:", style="bold red"))
            console.print(Text(f"  {_safe(m.note)}"))
    for note in verdict.notes:
        console.print(Text(_safe(note), style="yellow" if "warning:" in note else ""))
    for m in getattr(verdict, "metrics", []):
        if m.group == "judges":  # gate.judges: say why a judge is refused (or how it is calibrated)
            console.print(Text(f"  {_safe(m.note)}", style="red" if not m.passed else ""))
    style = "bold green" if verdict.passed else "bold red"
    console.print(Text(_safe(verdict.summary_line()), style=style))


def print_outcome(cfg: Config, outcome: Any, *, verbose: bool = False) -> None:
    for info in outcome.runs:
        title = f"{info.evalset}  run {info.run_id}"
        if info.baseline_run_id:
            title += f"  (baseline run {info.baseline_run_id})"
        print_summary(info.summary, title)
        print_verdict(info.verdict, verbose=verbose)
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


def combined_report(store: Any, infos: list[Any], root: Path | None = None) -> tuple[dict[str, Any], list[Any], Any]:
    """One report over the runs of one invocation (one per evalset): meta, outcomes, verdict."""
    from llmctl.gate import Verdict
    from llmctl.reports._context import report_context

    runs = [store.get_run(info.run_id) for info in infos]
    if len(runs) == 1 and root is not None:
        runs[0] = {**runs[0], "context": report_context(store, runs[0], root)}
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
    meta, outcomes, verdict = combined_report(store, outcome.runs, cfg.root)
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


def _write_text_report(path: Path, markdown: str, payload: dict[str, Any]) -> None:
    """A report of an invocation that stored no run (all skipped, or a dry run), in every format."""
    import json

    from llmctl.safetext import html_text, xml_safe

    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".md":
        path.write_text(markdown, encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif suffix == ".html":
        body = "".join(f"<p>{html_text(line)}</p>" for line in markdown.splitlines() if line.strip())
        path.write_text(
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>llmctl</title></head>'
            f"<body>{body}</body></html>\n",
            encoding="utf-8",
        )
    elif suffix == ".xml":
        name = xml_safe(payload.get("status", "llmctl")).replace('"', "'")
        path.write_text(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="llmctl {name}" tests="0" failures="0"/>\n',
            encoding="utf-8",
        )
    else:  # .jsonl / .csv: no results
        path.write_text("", encoding="utf-8")
    _common.err_console().print(f"wrote {path}")


def _publish(markdown: str, payload: dict[str, Any], outputs: list[Path]) -> None:
    import os

    from llmctl.reports import append_step_summary

    for path in outputs:
        _write_text_report(path, markdown, payload)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_step_summary(markdown)


def write_skipped_outputs(outcome: Any, baseline: str | None, outputs: list[Path]) -> None:
    """`--changed-only` skipped every evalset: still a current report, so an old FAIL comment is replaced."""
    from llmctl.safetext import md_inline

    names = ", ".join(md_inline(n) for n in outcome.skipped)
    markdown = (
        "## ✅ llmctl: nothing to evaluate\n\n"
        f"No evalset affected by this change (compared with {md_inline(baseline or '')}): "
        "nothing any evalset depends on changed (prompts and includes, evalset files, their data, "
        "python evaluator modules, judge prompts, the llmctl.yaml entries they use).\n\n"
        f"Not evaluated: {names}.\n"
    )
    payload = {"status": "SKIPPED", "baseline": baseline, "skipped": list(outcome.skipped)}
    _publish(markdown, payload, outputs)


def write_dry_run_outputs(outcome: Any, baseline: str | None, outputs: list[Path]) -> None:
    """A dry run's report: what would be evaluated, how many calls, estimated tokens and cost."""
    from llmctl.safetext import md_inline

    lines = [
        "## ℹ️ llmctl: dry run (not evaluated)",
        "",
        "This run had no model access (no secrets: a pull request from a fork, or `--dry-run`). "
        "Every case was rendered and validated; no model was called. A maintainer can evaluate it "
        "by re-running the workflow from a branch of this repository.",
        "",
    ]
    if outcome.dry_run_by_evalset:
        lines += ["| evalset | calls |", "| --- | --- |"]
        lines += [f"| {md_inline(n)} | {c} |" for n, c in outcome.dry_run_by_evalset.items()]
        lines.append("")
    cost = "" if outcome.dry_run_cost is None else f", about ${outcome.dry_run_cost:.4f} for the prompts"
    lines.append(
        f"{outcome.dry_run_cases} call(s), about {outcome.dry_run_tokens:,} prompt token(s){cost} "
        "(completions not included)."
    )
    if outcome.skipped:
        lines += [
            "",
            f"Not affected by this change (vs {md_inline(baseline or '')}): "
            + ", ".join(md_inline(n) for n in outcome.skipped)
            + ".",
        ]
    payload = {
        "status": "DRY RUN",
        "calls": outcome.dry_run_cases,
        "calls_by_evalset": dict(outcome.dry_run_by_evalset),
        "estimated_prompt_tokens": outcome.dry_run_tokens,
        "estimated_prompt_cost_usd": outcome.dry_run_cost,
        "skipped": list(outcome.skipped),
    }
    _publish("\n".join(lines) + "\n", payload, outputs)


def annotate_failures(cfg: Config, outcome: Any) -> None:
    """In GitHub Actions: one `::error` annotation per failing evalset, on each of its prompt files."""
    from llmctl.github import annotation, in_actions

    if not in_actions():
        return
    import sys

    from llmctl.store import Store

    store = Store(cfg.store_path)
    for info in outcome.runs:
        if info.verdict is None or info.verdict.passed:
            continue
        config = store.get_run(info.run_id).get("config") or {}
        if isinstance(config, str):
            import json

            config = json.loads(config)
        failed = "; ".join(f"{m.group}: {m.metric}" for m in info.verdict.failures)
        files: list[str] = sorted(set(_prompt_files(cfg, config))) or [str(config.get("evalset_path"))]
        for file in files:
            sys.stdout.write(
                annotation(f"llmctl: evalset {info.evalset} failed its gate ({failed})", file=file, line=1) + "\n"
            )


def _prompt_files(cfg: Config, config: dict[str, Any]) -> list[str]:
    from llmctl.prompt import PromptLibrary
    from llmctl.sources import WorktreeSource

    library = PromptLibrary(WorktreeSource(cfg.root), cfg.prompts_dir)
    out = []
    for name in config.get("prompts") or {}:
        try:
            out.append(library.get(name).path)
        except Exception:  # noqa: S112 - a prompt gone from the work tree has no file to point at
            continue
    return out
