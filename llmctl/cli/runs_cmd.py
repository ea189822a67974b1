"""`llmctl runs list|show|export|merge`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from llmctl.cli import _common

if TYPE_CHECKING:
    from llmctl.config import Config
    from llmctl.store import Store

runs_app = typer.Typer(help="Browse the store: list, show, export and merge runs.", no_args_is_help=True)


def _store(must_exist: bool = True) -> tuple[Config, Store]:
    from llmctl.errors import InputError
    from llmctl.store import Store

    cfg = _common.load_config()
    if must_exist and not cfg.store_exists():
        raise InputError(f"no store at {cfg.store_label} yet", hint="run llmctl eval first")
    return cfg, Store(cfg.store_location)


@runs_app.command("list")
def list_runs(
    limit: int = typer.Option(20, "--limit", "-n", help="How many runs (newest first)."),
    evalset: str = typer.Option(None, "--evalset", help="Only runs of this evalset."),
    prompt: str = typer.Option(None, "--prompt", help="Only runs that evaluated this prompt."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List recent runs with their status, pass rate, cost and errors.

    Example: llmctl runs list --evalset summarize -n 5
    """
    from rich.text import Text

    from llmctl import fmt
    from llmctl.cli._tables import Column, print_table
    from llmctl.safetext import terminal_safe

    _cfg, store = _store()
    runs = store.list_runs(limit=limit, evalset=evalset, prompt=prompt)
    if as_json:
        _common.echo_json([r.to_dict() for r in runs])
        return
    drops = {"commit": 3, "started": 2, "status": 1}
    columns = [
        Column(col, drop=drops.get(col, 0), fold=col == "evalset")
        for col in ("run", "started", "status", "evalset", "commit", "results", "pass rate", "errors", "cost")
    ]
    rows = []
    for r in runs:
        rows.append(
            [
                r.id,
                fmt.time(r.started_at),
                r.status,
                Text(terminal_safe(r.evalset)),
                (r.git_commit or "")[:8],
                fmt.count(r.n_results),
                fmt.pct(r.pass_rate),
                fmt.count(r.n_errors),
                fmt.usd(r.cost_usd or 0),
            ]
        )
    print_table(_common.console(), columns, rows)


@runs_app.command("show")
def show(
    run: str = typer.Argument(..., help="Run id (or a unique prefix); 'latest' for every run of the newest eval."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (a list for several runs)."),
    failed: bool = typer.Option(
        False, "--failed", help="Only the failing cases, every one with its reasons (and the results with an error)."
    ),
) -> None:
    """Show a run: its configuration, summary table and gate verdict (--failed: every failing case).

    Example: llmctl runs show r20261125 --failed
    """
    from llmctl import fmt
    from llmctl.cli.eval_view import print_failing, print_summary, print_verdict
    from llmctl.safetext import terminal_safe

    _cfg, store = _store()
    run_ids = store.invocation_runs("latest") if run in ("latest", "last") else [run]
    infos = [store.get_run(r) for r in run_ids]
    if failed:
        from llmctl.summary import failing_cases

        outcomes = {str(i.id): store.outcomes(str(i.id)) for i in infos}
        failing = [f for rid, items in outcomes.items() for f in failing_cases(items, rid)]
        errors = [(rid, o) for rid, items in outcomes.items() for o in items if o.error is not None]
        if as_json:
            keys = ("prompt", "model", "case_id", "repeat_index", "error")
            listed = [{"run_id": rid, **{k: getattr(o, k) for k in keys}} for rid, o in errors]
            _common.echo_json({"failing": [f.to_dict() for f in failing], "errors": listed})
            return
        names = {str(i.id): str(i.evalset or "") for i in infos}
        if not failing:
            typer.echo(f"no failing case in {', '.join(names)}")
        print_failing(failing, names, limit=None)
        if errors:
            typer.echo(f"{len(errors)} result(s) with an error:")
            for rid, o in errors:
                where = f"{terminal_safe(names[rid])} / " if len(names) > 1 else ""
                line = ((o.error or "").strip().splitlines() or [""])[0][:200]
                typer.echo(f"  {where}{terminal_safe(o.prompt)} / {terminal_safe(o.model)} / "
                           f"{terminal_safe(o.case_id)} #{o.repeat_index}: {terminal_safe(line)}")  # fmt: skip
        return
    if as_json:
        _common.echo_json(infos[0].to_dict() if len(infos) == 1 else [i.to_dict() for i in infos])
        return
    for info in infos:
        summary = info.summary_json or {}
        typer.echo(
            f"run {info.id}  {info.status}  evalset {terminal_safe(info.evalset)}  "
            f"commit {(info.git_commit or '')[:12]}  started {fmt.time(info.started_at)}"
        )
        if info.baseline_run_id:
            typer.echo(f"baseline run {info.baseline_run_id}")
        print_summary(summary, "summary")
        stored = summary.get("verdict")
        if isinstance(stored, dict) and stored:
            from llmctl.verdict import Verdict

            print_verdict(Verdict.from_dict(stored))


@runs_app.command("export")
def export(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    fmt: str = typer.Option("json", "--format", "-f", help="json, jsonl, csv, parquet or otlp (OTLP/JSON spans)"),
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default: RUN.FORMAT)."),
) -> None:
    """Export a run's results and scores as JSON, JSONL, CSV, Parquet or OTLP/JSON spans.

    otlp: one span per result with gen_ai.* attributes and a gen_ai.evaluation.result event per
    score, for Langfuse, Phoenix or MLflow (and `llmctl traces import`).

    Example: llmctl runs export r20261125 --format parquet -o run.parquet
    """
    from llmctl.errors import InputError
    from llmctl.store import EXPORT_FORMATS

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown format {fmt!r} ({', '.join(EXPORT_FORMATS)})")
    _cfg, store = _store()
    info = store.get_run(run)
    dest = output or Path(f"{info.id}.{'otlp.jsonl' if fmt == 'otlp' else fmt}")
    store.export(info.id, fmt, dest)
    typer.echo(f"wrote {dest}")


def _is_store_file(arg: str) -> bool:
    """A `runs merge` argument names a store file (not a run id): it is one, or reads as a path."""
    return Path(arg).is_file() or arg.endswith(".duckdb") or "/" in arg or "\\" in arg


@runs_app.command("merge")
def merge(
    sources: list[str] = typer.Argument(
        ..., help="Shard store files to merge into this project's store, or shard run ids already in it."
    ),
    run: str = typer.Option(None, "--into", help="Existing run id to merge into (default: a new run)."),
) -> None:
    """Combine shard runs (from `eval --shard I/N`) into one run and gate it.

    SOURCES are either shard store files (each shard's own DuckDB file; the latest run of
    each is merged into this project's store) or the ids of shard runs already in this
    project's store (shards that wrote into one shared store): then every shard 1..N must
    be there and finished, and merging the same runs again takes the run made the first
    time. Baseline shard runs are merged too, when every shard has one, so the gate compares
    the whole suite; otherwise only the absolute floors apply.

    Example: llmctl runs merge shard1.duckdb shard2.duckdb
    Example: llmctl runs merge r20261125-061502-ab12cd r20261125-061503-cd34ef
    """
    from llmctl.errors import InputError

    files = [_is_store_file(s) for s in sources]
    if any(files) and not all(files):
        listing = ", ".join(s for s, f in zip(sources, files, strict=True) if not f)
        raise InputError(
            f"runs merge takes shard store files or run ids, not both: {listing} read as run id(s)",
            hint="merge the store files first, then merge runs by id",
        )
    if all(files):
        for src in sources:
            if not Path(src).is_file():
                raise InputError(f"no such store file: {src}")
    cfg, store = _store(must_exist=not all(files))
    from llmctl.store import Store

    if all(files):
        latest = []
        for src in sources:
            runs = Store(Path(src)).list_runs(limit=1)
            if not runs:
                raise InputError("shard store has no runs to merge", file=str(src))
            latest.append(runs[0])
    else:
        latest = [store.get_run(s) for s in sources]
    from llmctl.cli.eval_view import print_summary, print_verdict
    from llmctl.gate import Verdict, compare
    from llmctl.summary import summarize

    gate = cfg.gate
    evalset_path = latest[0].config.get("evalset_path")
    if evalset_path and (cfg.root / evalset_path).is_file():
        from llmctl.evalset import load_evalset

        gate = gate.merged(load_evalset(cfg.root / evalset_path, cfg.root, cfg.evalsets_dir).gate)
    verdicts: list[Verdict] = []

    def finish(candidate, baseline):  # type: ignore[no-untyped-def]
        verdict = compare(baseline, candidate, gate)
        verdicts.append(verdict)
        base = summarize(baseline).to_dict() if baseline is not None else None
        return summarize(candidate, verdict).to_dict(), base

    # One transaction: the baseline, the run and its verdict are stored together or not at all.
    if all(files):
        baseline_ids = [r.baseline_run_id for r in latest]
        run_id = store.merge(
            run,
            [Path(s) for s in sources],
            source_run_ids=[r.id for r in latest],
            baseline_source_run_ids=[str(b) for b in baseline_ids] if all(baseline_ids) else None,
            finish=finish,
        )
        info = store.get_run(run_id)
        typer.echo(f"merged {len(sources)} store(s) into run {run_id}")
        if info.baseline_run_id and all(baseline_ids):
            typer.echo(f"merged their baseline runs into run {info.baseline_run_id}")
    else:
        run_id, baseline_run = store.merge_runs(run, [str(r.id) for r in latest], finish=finish)
        info = store.get_run(run_id)
        typer.echo(f"merged {len(sources)} run(s) into run {run_id}")
        if baseline_run:
            typer.echo(f"baseline run {baseline_run}")
    verdict = verdicts[-1]
    print_summary(info.summary_json or {}, f"run {run_id}")
    print_verdict(verdict)
    if not verdict.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
