"""Terminal output and report files for `llmctl eval` (and `llmctl report`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl.cli import _common
from llmctl.config import Config

if TYPE_CHECKING:
    from llmctl.store import RunConfig


def _safe(text: Any) -> str:
    from llmctl.safetext import terminal_safe

    return terminal_safe(text)


def print_summary(summary: Any, title: str) -> None:
    """The per prompt x model table of a run summary (llmctl.summary, or its stored dict): results,
    pass rate with its 95% interval, mean cost per case, what it spent, latency, cached, errors;
    then the mean scores and the run's spend."""
    from rich.text import Text

    from llmctl import fmt
    from llmctl.cli._tables import Column, print_table
    from llmctl.spend import spend_line, tokens_line
    from llmctl.summary import RunSummary, unlabelled_line

    has_spend = isinstance(summary, RunSummary) or isinstance((summary or {}).get("spend"), dict)
    if not isinstance(summary, RunSummary):
        summary = RunSummary.from_dict(summary)
    several = any(g.evalset for g in summary.groups)  # one invocation's evalsets in one table
    first = "evalset / prompt / model" if several else "prompt / model"
    # at a narrow terminal the least useful columns are left out first (llmctl.cli._tables)
    drops = {"cached": 5, "p50": 4, "spent": 3, "n": 2, "p95": 1}
    columns = [
        Column(col, "left" if col == first else "right", drops.get(col, 0), fold=col == first)
        for col in (first, "n", "pass rate [95% CI]", "cost/case", "spent", "p50", "p95", "cached", "errors")
    ]
    rows = []
    score_lines = []
    for g in summary.groups:
        name = f"{g.evalset} / {g.prompt} / {g.model}" if several else f"{g.prompt} / {g.model}"
        rows.append(
            [
                Text(_safe(name)),
                fmt.count(g.n),
                f"{fmt.pct(g.pass_rate)} {fmt.interval(g.pass_rate_ci)}" if g.pass_rate_ci else fmt.pct(g.pass_rate),
                fmt.usd_per_case(g.cost_usd_mean),
                _spent(g),
                fmt.ms(g.latency_p50),
                fmt.ms(g.latency_p95),
                fmt.count(g.cached),
                fmt.count(g.errors),
            ]
        )
        scores = ", ".join(f"{k} {fmt.score(v)}" for k, v in g.scores.items())
        if scores:
            score_lines.append(f"  {name}: mean scores {scores}")
    print_table(_common.console(), columns, rows, title=Text(_safe(title)))
    for line in score_lines:
        _common.console().print(Text(_safe(line)))
    unlabelled = unlabelled_line(summary)
    if unlabelled:
        _common.console().print(Text(unlabelled, style="yellow"))
    if has_spend:  # a summary stored before spend was kept has none
        _common.console().print(Text(spend_line(summary.spend)))
        _common.console().print(Text(tokens_line(summary.spend), style="dim"))


def _spent(group: Any) -> str:
    """A group's model spend (+ its judges'); a summary from before spend was kept shows its cost."""
    from llmctl import fmt

    if group.spent_usd is None:
        return fmt.usd(group.cost_usd_total)
    text = fmt.usd(group.spent_usd)
    if group.judge_usd:
        text += f" + judge {fmt.usd(group.judge_usd)}"
    return text


def _not_compared(m: Any) -> bool:
    """A checked row with no values on either side: the check could not run (and passed)."""
    from llmctl.reports._format import not_compared

    return not_compared(m)


def print_verdict(verdict: Any, *, verbose: bool = True) -> None:
    """Every checked metric with baseline, candidate, delta, interval, threshold and PASS/FAIL (report-only
    rows unless `verbose` is False, as `llmctl eval` without --verbose); flipped and flaky cases; the notes."""
    from rich.text import Text

    from llmctl.cli._tables import Column, print_table
    from llmctl.reports._format import fmt_case_rate, metric_cells
    from llmctl.verdict import REPORT_ONLY, flip_phrase

    console = _common.console()
    if verdict is None:
        return
    drops = {"p": 6, "interval": 5, "threshold": 4, "delta": 3, "baseline": 2}
    columns = [
        Column(col, drop=drops.get(col, 0), fold=col == "group")
        for col in ("group", "metric", "baseline", "candidate", "delta", "interval", "p", "threshold", "verdict")
    ]
    rows = []
    shown = [m for m in verdict.metrics if verbose or m.threshold != REPORT_ONLY]
    for m in shown:
        cells = metric_cells(m)
        if m.threshold == REPORT_ONLY:
            status = Text("info", style="dim")
        elif _not_compared(m):
            status = Text("skipped", style="dim")
        else:
            status = Text("PASS", style="green") if m.passed else Text("FAIL", style="bold red")
        rows.append(
            [
                Text(_safe(m.group)),
                Text(_safe(m.metric)),
                *(
                    Text(_safe(cells[k]))
                    for k in ("baseline", "candidate", "delta", "interval", "p_value", "threshold")
                ),
                status,
            ]
        )
    if shown:
        print_table(console, columns, rows, title="gate")
    for m in shown:
        if _not_compared(m) and m.note:  # e.g. latency with too few fresh results: say why
            console.print(Text(f"{_safe(m.group)} {_safe(m.metric)}: {_safe(m.note)}", style="dim"))
    hidden = len(verdict.metrics) - len(shown)
    if hidden:
        console.print(Text(f"{hidden} report-only row(s) not shown (--verbose shows them)", style="dim"))
    by_case: dict[tuple[str, str, str], list[Any]] = {}
    for f in verdict.flipped:
        if f.direction == "pass->fail":
            by_case.setdefault((f.prompt, f.model, f.case_id), []).append(f)
    if by_case:
        console.print(Text(f"{flip_phrase(verdict.flipped)} flipped pass -> fail:", style="bold red"))
        for (prompt, model, case_id), samples in list(by_case.items())[:20]:
            first = samples[0]
            rep = f" ({len(samples)} samples)" if len(samples) > 1 else ""
            console.print(Text(f"  {_safe(prompt)} / {_safe(model)} / {_safe(case_id)}{rep}"))
            console.print(Text(f"    before: {_safe(first.baseline_output)[:160]!r}"))
            console.print(Text(f"    after:  {_safe(first.candidate_output)[:160]!r}"))
        if len(by_case) > 20:
            console.print(f"  ... and {len(by_case) - 20} more (see the report)")
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
    """What one `llmctl eval` did: one summary table over every evalset it ran (a row per evalset x
    prompt x model), one gate table over their checks, then the cases without a result grouped by
    cause, with the command that completes each run."""

    from llmctl.cli.batch_view import print_batches
    from llmctl.summary import RunSummary
    from llmctl.verdict import combine_verdicts, shared_notes, with_evalset

    print_batches(list(outcome.runs))
    infos = [info for info in outcome.runs if not info.submitted]  # submitted: not evaluated yet
    if not infos:
        return
    if len(infos) == 1:
        info = infos[0]
        title = f"{info.evalset}  run {info.run_id}"
        if info.baseline_run_id:
            title += f"  (baseline run {info.baseline_run_id})"
        print_summary(info.summary, title)
        print_verdict(info.verdict, verbose=verbose)
    else:
        summary = RunSummary.combine((info.evalset, _as_summary(info.summary)) for info in infos)
        compared = sum(1 for info in infos if info.baseline_run_id)
        title = f"{len(infos)} evalsets, {len(infos)} run(s)" + (f", {compared} with a baseline" if compared else "")
        print_summary(summary, title)
        for info in infos:
            line = f"  {info.evalset}: run {info.run_id}"
            if info.baseline_run_id:
                line += f" (baseline run {info.baseline_run_id})"
            _common.console().print(_text(line, "dim"))
        judged = [info for info in infos if info.verdict is not None]
        combined = combine_verdicts([with_evalset(info.evalset, info.verdict) for info in judged])
        if combined is not None:
            combined.notes = shared_notes([(info.evalset, info.verdict.notes) for info in judged])
        print_verdict(combined, verbose=verbose)
    print_failing([f for info in infos for f in info.failing], {info.run_id: info.evalset for info in infos})
    _print_errors(infos)


MAX_FAILING_SHOWN = 10


def print_failing(failing: list[Any], evalsets: dict[str, str], *, limit: int | None = MAX_FAILING_SHOWN) -> None:
    """The failing cases by name (the first `limit`, each with its failing evaluators' reasons), then
    "and M more" and the commands that list them all (None: every case, no pointer)."""
    from llmctl.summary import see_all_failing

    if not failing:
        return
    console = _common.console()
    samples = sum(f.samples for f in failing)
    failed = sum(f.failed for f in failing)
    head = f"{len(failing)} failing case(s)"
    if samples > len(failing):
        head += f" ({failed} of their {samples} samples failed)"
    console.print(_text(head + ":", "bold red"))
    for f in failing[:limit]:
        where = f"{evalsets.get(f.run_id, f.run_id)} / " if len(evalsets) > 1 else ""
        rep = f" ({f.failed}/{f.samples} samples)" if f.samples > 1 else ""
        console.print(_text(f"  {where}{f.prompt} / {f.model} / {f.case_id}{rep}"))
        for name, reason in list(f.reasons.items())[: 3 if limit is not None else None]:
            text = " ".join(str(reason).split())
            console.print(_text(f"    {name}: {text[:200] if limit is not None else text}", "dim"))
    if limit is None:
        return
    more = len(failing) - limit
    lead = f"  ... and {more} more; all of them: " if more > 0 else "  all of them: "
    console.print(_text(lead + see_all_failing(f.run_id for f in failing)))


def _as_summary(summary: Any) -> Any:
    from llmctl.summary import RunSummary

    return summary if isinstance(summary, RunSummary) else RunSummary.from_dict(summary or None)


def _text(text: str, style: str = "") -> Any:
    from rich.text import Text

    return Text(_safe(text), style=style)


def _print_errors(infos: list[Any]) -> None:
    """Cases with no result after retries, over every run: grouped by cause, then named, then the
    command that completes each run."""
    failing = [info for info in infos if info.errors]
    if not failing:
        return
    console = _common.console()
    total = sum(len(info.errors) for info in failing)
    console.print(_text(f"{total} case(s) have no result after retries (exit 3):", "bold red"))
    causes: dict[str, int] = {}
    for info in failing:
        for cause, count in getattr(info, "error_causes", []):
            causes[cause] = causes.get(cause, 0) + count
    for cause, count in sorted(causes.items(), key=lambda kv: -kv[1])[:5]:
        console.print(_text(f"  {count} x {cause}", "red"))
    shown = 0
    for info in failing:
        for prompt, model, case_id in info.errors[: max(0, 20 - shown)]:
            where = (
                f"{info.evalset} / {prompt} / {model} / {case_id}"
                if len(infos) > 1
                else f"{prompt} / {model} / {case_id}"
            )
            console.print(_text(f"  {where}"))
            shown += 1
    if total > shown:
        runs = " ".join(info.run_id for info in failing)
        console.print(_text(f"  ... and {total - shown} more (llmctl runs export RUN lists them all: {runs})"))
    for info in failing:
        console.print(_text(f"  complete them with: llmctl eval --resume {info.run_id}"))


def write_outputs(cfg: Config, outcome: Any, outputs: list[Path]) -> None:
    """--output FILE: reports (.md .xml .json .html) or results (.jsonl .csv), by extension (llmctl.outputs)."""
    import os

    if not outcome.runs or not (outputs or os.environ.get("GITHUB_STEP_SUMMARY")):
        return
    if any(info.submitted for info in outcome.runs):
        from dataclasses import replace

        evaluated = [info for info in outcome.runs if not info.submitted]
        if outputs:
            _common.err_console().print("reports cover only evaluated runs; a submitted run has none until collected")
        if not evaluated:
            return
        outcome = replace(outcome, runs=evaluated)
    from llmctl import outputs as formats
    from llmctl.reports import ReportData, append_step_summary, render_markdown, write_report
    from llmctl.reports._invocation import combined_report, export_results
    from llmctl.store import Store

    store = Store(cfg.store_location)
    meta, results, verdict, summary = combined_report(store, [(i.run_id, i.verdict) for i in outcome.runs], cfg.root)
    for path in outputs:
        found = formats.check(path)
        if found.kind == formats.RESULTS:
            export_results(store, [i.run_id for i in outcome.runs], path, found.name)
        else:
            write_report(path, meta, results, verdict, summary)
        _common.err_console().print(f"wrote {path}")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_step_summary(render_markdown(ReportData(run=meta, outcomes=results, verdict=verdict, summary=summary)))


def _publish(markdown: str, payload: dict[str, Any], outputs: list[Path]) -> None:
    import os

    from llmctl.reports import append_step_summary
    from llmctl.reports._invocation import write_text_report

    for path in outputs:
        write_text_report(path, markdown, payload)
        _common.err_console().print(f"wrote {path}")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        append_step_summary(markdown)


def write_skipped_outputs(outcome: Any, baseline: str | None, outputs: list[Path]) -> None:
    """`--changed-only` skipped every evalset: still a current report, so an old FAIL comment is replaced."""
    from llmctl.reports._invocation import skipped_report

    _publish(*skipped_report(outcome.skipped, baseline), outputs)


def write_dry_run_outputs(outcome: Any, baseline: str | None, outputs: list[Path]) -> None:
    """A dry run's report: what would be evaluated, how many calls, estimated tokens and cost."""
    from llmctl.reports._invocation import dry_run_report

    _publish(*dry_run_report(outcome, baseline), outputs)


def annotate_failures(cfg: Config, outcome: Any) -> None:
    """In GitHub Actions: one `::error` annotation per failing evalset, on each of its prompt files."""
    from llmctl.github import annotation, in_actions

    if not in_actions():
        return
    import sys

    from llmctl.store import Store

    store = Store(cfg.store_location)
    for info in outcome.runs:
        if info.verdict is None or info.verdict.passed:
            continue
        config = store.get_run(info.run_id).config
        failed = "; ".join(f"{m.group}: {m.metric}" for m in info.verdict.failures)
        files: list[str] = sorted(set(_prompt_files(cfg, config))) or [str(config.get("evalset_path"))]
        for file in files:
            sys.stdout.write(
                annotation(f"llmctl: evalset {info.evalset} failed its gate ({failed})", file=file, line=1) + "\n"
            )


def _prompt_files(cfg: Config, config: RunConfig) -> list[str]:
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
