"""`llmctl eval`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer

from llmctl.cli import _common


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    from llmctl.errors import InputError

    if value is None:
        return None
    index, sep, count = value.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = 0, 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise InputError(f"--shard expects I/N with 1 <= I <= N, got {value!r}")
    return i, n


def _eta(p: Any, now: float) -> str:
    """Time left at the rate so far ("-" until the first result, "0:00" when done)."""
    from llmctl import fmt

    left = max(p.total - p.done, 0)
    if not left:
        return "0:00"
    elapsed = now - p.started
    if p.done <= 0 or elapsed <= 0:
        return "-"
    return fmt.duration(left * elapsed / p.done)


class _ProgressView:
    """A rich progress bar per evalset and side on a terminal; a plain line every few seconds in CI logs."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._last = 0.0
        self._printed: tuple[str, int] | None = None
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __call__(self, p: Any) -> None:
        from llmctl import fmt
        from llmctl.safetext import terminal_safe

        now = time.monotonic()
        phase = terminal_safe(p.phase)
        rate = fmt.count(p.done / max(now - p.started, 1e-6))
        if self.tty:
            if self._bar is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

                self._bar = Progress(
                    TextColumn("{task.description}", markup=False),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn(
                        "{task.fields[rate]}/s  failed {task.fields[failed]}  errors {task.fields[errors]}  "
                        "retries {task.fields[retries]}  cached {task.fields[cached]}  ETA {task.fields[eta]}",
                        markup=False,
                    ),
                    console=_common.err_console(),
                    transient=True,
                )
                self._bar.start()
            task = self._tasks.get(phase)
            if task is None:
                task = self._tasks[phase] = self._bar.add_task(
                    phase, total=p.total, rate="0", failed=0, errors=0, retries=0, cached=0, eta="-"
                )
            self._bar.update(
                task,
                total=p.total,
                completed=p.done,
                rate=rate,
                failed=p.failed,
                errors=p.errors,
                retries=p.retries,
                cached=p.cached,
                eta=_eta(p, now),
            )
            return
        finished = bool(p.total) and p.done >= p.total
        if (phase, p.done) == self._printed:
            return  # the same line again (a late update after the last case)
        if now - self._last >= 5.0 or finished:
            self._last = now
            self._printed = (phase, p.done)
            sys.stderr.write(
                f"[{phase}] {p.done}/{p.total} done, {rate}/s, {p.failed} failed cases, "
                f"{p.errors} errors, {p.retries} retries, {p.cached} cached, ETA {_eta(p, now)}\n"
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def eval_(
    evalsets: list[str] = typer.Argument(None, help="Evalset names or files (default: all in evalsets/)."),
    model: list[str] = typer.Option(None, "--model", "-m", help="Model(s) to use instead of the evalset's."),
    baseline: str = typer.Option(None, "--baseline", help="Also evaluate the prompts at this git ref and compare."),
    changed_only: bool = typer.Option(
        False,
        "--changed-only",
        help="Only evalsets whose fingerprint (prompts, includes, evalset, data, evaluator code, judge prompts, "
        "llmctl.yaml entries used) differs from --baseline's.",
    ),
    concurrency: int = typer.Option(None, "--concurrency", "-j", min=1, help="Concurrent model calls."),
    repeat: int = typer.Option(None, "--repeat", min=1, help="Samples per case (each a separate call)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read the response cache."),
    resume: str = typer.Option(None, "--resume", help="Complete an interrupted run (RUN id)."),
    shard: str = typer.Option(None, "--shard", help="Run shard I of N (I/N), a stable split of the cases."),
    output: list[Path] = typer.Option(
        None, "--output", "-o", help="Write a report (.md .xml .json .html) or results (.jsonl .csv); repeatable."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Render and validate everything; make no model calls."),
    deadline: float = typer.Option(
        None, "--deadline", help="Give up after this many seconds (unfinished cases become errors)."
    ),
    prompt_ref: str = typer.Option(
        None, "--at", help="Evaluate the prompts as they are at this ref (default: work tree)."
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="Only the first N cases of each evalset."),
    case: list[str] = typer.Option(
        None, "--case", help="Only cases whose id matches this glob (e.g. 'refund-*'); repeatable."
    ),
    rerun_failed: str = typer.Option(
        None, "--rerun-failed", help="Only the cases that failed or errored in this RUN (a new run)."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="Also show the gate's report-only rows (reports always have every row)."
    ),
    batch: bool = typer.Option(
        False,
        "--batch",
        help="Send uncached calls (and judge calls) through the providers' batch APIs, at batch prices.",
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="With batches: submit them and exit 0; collect later with --resume RUN."
    ),
    batch_poll: float = typer.Option(
        15.0, "--batch-poll", min=0.0, help="Seconds between looks at a batch while waiting for it."
    ),
) -> None:
    """Run evalsets, store the run, print a summary and gate it.

    Exit codes: 0 every gate passed, 1 a gate failed, 2 bad input, 3 provider
    errors left cases without results.

    Example: llmctl eval --baseline origin/main --changed-only --output report.md
    """
    from llmctl.run import EvalOptions, run_eval

    options = EvalOptions(
        evalsets=list(evalsets or []),
        models=list(model) if model else None,
        baseline=baseline,
        changed_only=changed_only,
        concurrency=concurrency,
        repeat=repeat,
        no_cache=no_cache,
        resume=resume,
        shard=_parse_shard(shard),
        dry_run=dry_run,
        prompt_ref=prompt_ref,
        deadline=deadline,
        limit=limit,
        case_globs=list(case) if case else None,
        rerun_failed=rerun_failed,
        batch=batch,
        no_wait=no_wait,
        batch_poll=batch_poll,
    )
    cfg = _common.load_config()
    from llmctl import outputs

    for path in output or []:
        outputs.check(path)
    view = _ProgressView()
    from llmctl.run._stop import stop_on_sigterm

    restore = stop_on_sigterm()
    try:
        outcome = run_eval(cfg, options, listener=view)
    finally:
        restore()
        view.close()
    from llmctl.cli.eval_view import (
        annotate_failures,
        print_outcome,
        write_dry_run_outputs,
        write_outputs,
        write_skipped_outputs,
    )
    from llmctl.safetext import terminal_safe

    for name in outcome.skipped:
        typer.echo(terminal_safe(f"skipped {name}: nothing it depends on changed since {baseline}"))
    if dry_run:
        for name, calls in outcome.dry_run_by_evalset.items():
            typer.echo(terminal_safe(f"dry run {name}: {calls} call(s) rendered and validated"))
        from llmctl import fmt

        cost = "" if outcome.dry_run_cost is None else f", about {fmt.usd(outcome.dry_run_cost)} of prompt tokens"
        images = ""
        if outcome.dry_run_images:
            images = (
                f" (of them {fmt.count(outcome.dry_run_image_tokens)} for {fmt.count(outcome.dry_run_images)} image(s))"
            )
        typer.echo(
            f"dry run: {outcome.dry_run_cases} call(s), about {fmt.count(outcome.dry_run_tokens)} prompt token(s)"
            f"{images}{cost}; an estimate (text at about 4 characters a token, images by litellm's "
            "estimate), no model was called"
        )
        write_dry_run_outputs(outcome, baseline, list(output or []))
        return
    if not outcome.runs and outcome.skipped:
        typer.echo(terminal_safe(f"no evalset affected by this change (compared with {baseline})"))
        write_skipped_outputs(outcome, baseline, list(output or []))
        return
    print_outcome(cfg, outcome, verbose=verbose)
    write_outputs(cfg, outcome, list(output or []))
    annotate_failures(cfg, outcome)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_)
