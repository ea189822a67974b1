"""`llmctl labels import FILE.csv|FILE.jsonl [--run RUN]` and `llmctl review RUN`."""

from __future__ import annotations

from pathlib import Path

import typer

from llmctl.cli import _common

labels_app = typer.Typer(help="Human labels: evalsets/labels/<evalset>.jsonl.", no_args_is_help=True)


def _store():  # type: ignore[no-untyped-def]
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
    """Label a run's outputs at the terminal: p pass, f fail, s skip, q quit (a note may follow: 'f wrong total').

    Labels are written to evalsets/labels/<evalset>.jsonl as you go.

    Example: llmctl review latest --failed
    """
    import sys

    from llmctl.errors import InputError
    from llmctl.labels import LabelIndex, add_labels, labels_path, make_label, read_labels
    from llmctl.safetext import terminal_safe

    cfg, store = _store()
    info = store.get_run(run)
    evalset = str(info.get("evalset") or "")
    if not evalset:
        raise InputError(f"run {info['id']} has no evalset; labels are kept per evalset")
    index = LabelIndex(read_labels(labels_path(cfg.root, evalset)))
    todo = [o for o in store.outcomes(str(info["id"])) if o.output is not None]
    if failed_only:
        todo = [o for o in todo if not o.passed]
    if not all_results:
        todo = [o for o in todo if index.get(o.case_id, o.model, o.output) is None]
    typer.echo(f"run {info['id']} ({terminal_safe(evalset)}): {len(todo)} output(s) to review")
    done = 0
    for i, o in enumerate(todo, start=1):
        typer.echo("")
        typer.echo(f"[{i}/{len(todo)}] case {terminal_safe(o.case_id)}  model {terminal_safe(o.model)}  "
                   f"automatic: {'pass' if o.passed else 'fail'}")  # fmt: skip
        for name, reason in o.reasons.items():
            if reason:
                typer.echo(f"  {terminal_safe(name)}: {terminal_safe(reason)[:300]}")
        typer.echo("--- output ---")
        typer.echo(terminal_safe(o.output))
        typer.echo("--------------")
        while True:
            typer.echo("label [p]ass/[f]ail/[s]kip/[q]uit (optional note after a space): ", nl=False)
            line = sys.stdin.readline()
            if not line:  # end of input: stop, keeping what was labelled
                line = "q"
            answer, _, note = line.strip().partition(" ")
            answer = answer.lower()
            if answer in ("p", "pass", "f", "fail", "s", "skip", "q", "quit"):
                break
            typer.echo("  answer p, f, s or q")
        if answer in ("q", "quit"):
            break
        if answer in ("s", "skip"):
            continue
        label = make_label(
            o.case_id, o.model, o.output, "pass" if answer.startswith("p") else "fail", note=note.strip()
        )
        add_labels(cfg.root, evalset, [label], store)
        done += 1
    typer.echo(f"labelled {done} output(s) in {labels_path(cfg.root, evalset).relative_to(cfg.root)}")


def register(app: typer.Typer) -> None:
    app.add_typer(labels_app, name="labels")
    app.command("review")(review)
