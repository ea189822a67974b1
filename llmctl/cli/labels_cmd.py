"""`llmctl labels import FILE.csv|FILE.jsonl [--run RUN]` and `llmctl review RUN`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from llmctl.cli import _common

if TYPE_CHECKING:
    from llmctl.config import Config
    from llmctl.store import Store

labels_app = typer.Typer(help="Human labels: evalsets/labels/<evalset>.jsonl.", no_args_is_help=True)


def _store() -> tuple[Config, Store]:
    from llmctl.errors import InputError
    from llmctl.store import Store

    cfg = _common.load_config()
    if not cfg.store_exists():
        raise InputError(f"no store at {cfg.store_label} yet", hint="run llmctl eval first")
    return cfg, Store(cfg.store_location)


@labels_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A CSV or JSONL file with case_id,label[,model,score,note]."),
    run: str = typer.Option(None, "--run", help="Bind the labels to this run's outputs (default: the latest run)."),
    evalset: str = typer.Option(None, "--evalset", help="Without --run: the latest run of this evalset."),
) -> None:
    """Import labels made elsewhere, bound to a run's outputs (by their SHA-256).

    Example: llmctl labels import reviewed.csv --run 20240601-1200-ab12
    """
    from llmctl.labels import import_labels

    cfg, store = _store()
    dest, new = import_labels(file, store, cfg.root, run_ref=run, evalset=evalset)
    typer.echo(
        f"imported {len(new)} label(s) into {dest.relative_to(cfg.root) if dest.is_relative_to(cfg.root) else dest}"
    )


def review(
    run: str = typer.Argument("latest", help="The run to review (id, prefix or latest)."),
    all_results: bool = typer.Option(False, "--all", help="Also show outputs that already have a label."),
    failed_only: bool = typer.Option(False, "--failed", help="Only results that failed or errored."),
) -> None:
    """Label a run's outputs at the terminal: p pass, f fail, n note, s skip, b back, i input, q quit.

    Each output is shown with its input (the last user message; i shows every message), the
    expected value and tool calls, each evaluator's verdict and reason, and the answer turn by
    turn (text, tool calls, finish reason). A note may follow p or f: 'f wrong total'. Labels
    are written to evalsets/labels/<evalset>.jsonl as you go.

    Example: llmctl review latest --failed
    """
    import sys

    from llmctl.errors import InputError
    from llmctl.labels import add_labels, labels_path, make_label
    from llmctl.review import ReviewItem, review_items, run_review
    from llmctl.safetext import terminal_safe

    cfg, store = _store()
    info = store.get_run(run)
    evalset = str(info.evalset or "")
    if not evalset:
        raise InputError(f"run {info.id} has no evalset; labels are kept per evalset")
    todo = review_items(store, info, cfg.root, failed_only=failed_only, all_results=all_results)
    typer.echo(f"run {info.id} ({terminal_safe(evalset)}): {len(todo)} output(s) to review")

    def ask(prompt: str) -> str | None:
        typer.echo(prompt, nl=False)
        line = sys.stdin.readline()
        return line if line else None

    def save(item: ReviewItem, label: str, note: str) -> None:
        add_labels(
            cfg.root,
            evalset,
            [
                make_label(
                    item.case_id,
                    item.model,
                    item.output,
                    label,
                    note=note,
                    tool_calls=item.tool_calls,
                    turns=item.turns,
                )
            ],
            store,
        )

    done = run_review(todo, ask, typer.echo, save)
    typer.echo(f"labelled {done} output(s) in {labels_path(cfg.root, evalset).relative_to(cfg.root)}")


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
    app.command("review")(review)
