"""`llmctl store copy|convert|info`: move a history between a local file and a shared DuckLake store."""

from __future__ import annotations

from pathlib import Path

import typer

from llmctl.cli import _common

store_app = typer.Typer(
    help="The store itself: copy a history between a local file and a shared store, convert an old file.",
    no_args_is_help=True,
)


def _where(text: str, cfg_root: Path):  # type: ignore[no-untyped-def]
    from llmctl.store_location import parse_store_url

    if text in (".", "project"):
        cfg = _common.load_config()
        return cfg.store_location
    return parse_store_url(text, root=cfg_root)


def _label(where) -> str:  # type: ignore[no-untyped-def]
    return getattr(where, "label", None) or str(where)


@store_app.command("copy")
def copy(
    source: str = typer.Argument(
        ..., help="Store to copy from: a file, `ducklake:<catalog>;data=<path>`, or `project`."
    ),
    dest: str = typer.Argument(..., help="Store to copy into (the same forms); created if it does not exist."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Copy every run, result, score and cache entry from SOURCE into DEST (either way between a
    local DuckDB file and a shared DuckLake store). Idempotent: what DEST has already is skipped,
    a run that finished since the last copy is updated. One transaction: an interrupted copy
    leaves DEST as it was. `project` is the store llmctl.yaml (or LLMCTL_STORE) names.

    Example: llmctl store copy .llmctl/llmctl.duckdb 'ducklake:sqlite:/shared/cat.sqlite;data=/shared/data/'
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    from llmctl.store import Store

    root = Path.cwd()
    src, dst = _where(source, root), _where(dest, root)
    store = Store(dst, on_wait=lambda m: typer.echo(m, err=True))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        disable=quiet,
        transient=False,
        console=_common.err_console(),
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(table: str, total: int, added: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(f"{table:<20}", total=max(total, 1))
            if added >= 0:
                bar.update(tasks[table], completed=max(total, 1))

        added = store.copy_from(src, progress)
    typer.echo(
        f"copied {_label(src)} -> {_label(dst)}: "
        + ", ".join(f"{n} {table}" for table, n in added.items() if table in ("runs", "results", "scores", "cache"))
        + (f" added ({sum(added.values())} rows in all)")
    )


@store_app.command("convert")
def convert(
    path: Path = typer.Argument(..., help="A store file written by another DuckDB version (e.g. 2.x)."),
    python: str = typer.Option(None, "--python", help="A Python whose duckdb reads the file (default: uv run)."),
    duckdb_spec: str = typer.Option(None, "--duckdb", help="The DuckDB to read it with, as a pip requirement."),
) -> None:
    """Convert a store file that another DuckDB wrote (e.g. DuckDB 2.x) to this llmctl's DuckDB
    (the 1.5 line). Every table is exported with a DuckDB that reads the file (`uv run --with
    'duckdb>=2,<3'`, or --python), imported into a new file and counted; the new file takes the
    old one's place and the original is kept as PATH.duckdb-<format>.bak.

    Example: llmctl store convert .llmctl/llmctl.duckdb
    """
    from llmctl.store._convert import convert as do_convert

    counts = do_convert(path, python=python, duckdb_spec=duckdb_spec)
    typer.echo(
        f"converted {path}: {counts.get('runs', 0)} runs, {counts.get('results', 0)} results "
        f"({sum(counts.values())} rows in {len(counts)} tables); the original is kept beside it (.bak)"
    )


@store_app.command("info")
def info(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Which store this project uses (a local file or a shared DuckLake), its schema version,
    its runs and, for a DuckLake, its current snapshot."""
    import json

    from llmctl.store import Store
    from llmctl.store._queries import run_count

    cfg = _common.load_config()
    store = Store(cfg.store_location)
    runs = run_count(store) if cfg.store_exists() else 0
    out = {
        "store": cfg.store_label,
        "kind": "ducklake" if store.is_lake else "duckdb",
        "schema_version": store.schema_version() if cfg.store_exists() else None,
        "runs": runs,
        "snapshot": store.snapshot(),
    }
    if as_json:
        typer.echo(json.dumps(out))
    else:
        for key, value in out.items():
            typer.echo(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
