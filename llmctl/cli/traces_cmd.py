"""`llmctl traces import|to-cases`: production traces into the store, and from the store into eval cases."""

from __future__ import annotations

from pathlib import Path

import typer

from llmctl.cli import _common

traces_app = typer.Typer(
    help="Production traces: import OTLP/OpenAI/litellm logs, turn them into eval cases.", no_args_is_help=True
)


@traces_app.command("import")
def import_(
    files: list[Path] = typer.Argument(..., help="Trace files (JSON lines)."),
    fmt: str = typer.Option("auto", "--format", "-f", help="auto (from the first record), otlp, openai or litellm."),
) -> None:
    """Import trace files into the store's `traces` table (idempotent: a re-import adds nothing).

    otlp: OTLP/JSON as the OpenTelemetry Collector's file exporter writes it (gen_ai.* attributes,
    current and deprecated names); openai: one {"request", "response", "latency_ms", "timestamp",
    "metadata"} exchange a line; litellm: StandardLoggingPayload JSON lines. Each file is one
    transaction: a bad line (reported as file:line, exit 2) imports nothing of that file.

    Example: llmctl traces import otel-traces.jsonl --format otlp
    """
    from llmctl import fmt as show
    from llmctl.errors import InputError
    from llmctl.store import Store
    from llmctl.traces import FORMATS, import_files

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    for path in files:
        if not path.is_file():
            raise InputError("no such trace file", file=str(path))
    cfg = _common.load_config()
    store = Store(cfg.store_path)

    def report(path: Path, counts) -> None:  # type: ignore[no-untyped-def]
        from llmctl.safetext import terminal_safe

        known = counts.rows - counts.inserted
        extra = f", {show.count(counts.attributed)} attributed from their trace" if counts.attributed else ""
        typer.echo(
            f"{terminal_safe(str(path))}: {show.count(counts.rows)} call(s), {show.count(counts.inserted)} new, "
            f"{show.count(known)} already imported{extra}"
        )

    import_files(store, files, fmt, on_file=report)


@traces_app.command("to-cases")
def to_cases(
    evalset: str = typer.Option(
        ..., "--evalset", help="Evalset to add the cases to (evalsets/NAME.yaml, created if missing)."
    ),
    prompt: str = typer.Option(
        None, "--prompt", help="The prompt whose traces to sample (default: the evalset's prompt)."
    ),
    sample: int = typer.Option(50, "--sample", "-n", help="How many cases to add (at most)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample (same seed, same cases)."),
    where: str = typer.Option(
        None, "--where", help='Filter, e.g. "error", "latency_ms > 2000 and model == \'gpt-4o\'", "failed:pii".'
    ),
    no_redact: bool = typer.Option(False, "--no-redact", help="Keep PII and secrets (stated in the evalset)."),
) -> None:
    """Sample production traces into eval cases: seeded, stratified by prompt version and outcome.

    Inputs map back to the prompt's declared variables when the trace carries them, else the
    conversation becomes the case's `messages`. PII and secrets are redacted by default with the
    pii/secrets evaluators' detectors; duplicates are dropped; ids are stable (a hash of the inputs).

    Example: llmctl traces to-cases --evalset summarize-regressions --prompt summarize --where error -n 30
    """
    from llmctl.safetext import terminal_safe
    from llmctl.store import Store
    from llmctl.traces._cases import to_cases as run

    cfg = _common.load_config()
    result = run(
        cfg,
        Store(cfg.store_path),
        evalset=evalset,
        prompt=prompt,
        sample=sample,
        seed=seed,
        where=where,
        redact=not no_redact,
    )
    strata = ", ".join(f"{terminal_safe(k)}: {v}" for k, v in sorted(result.strata.items()))
    if not result.added and result.created:
        typer.echo(
            f"no case to add from {result.candidates} matching trace(s); {terminal_safe(str(result.path))} not written"
        )
    else:
        typer.echo(
            f"{'wrote' if result.created else 'updated'} {terminal_safe(str(result.path))}: "
            f"{result.added} case(s) added "
            f"from {result.candidates} matching trace(s)" + (f" ({strata})" if strata else "")
        )
    if result.duplicates:
        typer.echo(f"{result.duplicates} duplicate(s) dropped")
    if result.skipped_no_inputs:
        typer.echo(f"{result.skipped_no_inputs} trace(s) skipped: no values for the prompt's required variables")
    if not result.redacted:
        typer.echo("PII and secrets were NOT redacted (--no-redact); the evalset says so")


def register(app: typer.Typer) -> None:
    app.add_typer(traces_app, name="traces")
