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


def register(app: typer.Typer) -> None:
    app.add_typer(traces_app, name="traces")
