"""`llmctl judge calibrate [EVALSET...] [--json]`."""

from __future__ import annotations

import typer

from llmctl.cli import _common

judge_app = typer.Typer(help="LLM judges: calibrate them against human labels.", no_args_is_help=True)


@judge_app.command("calibrate")
def calibrate_(
    evalsets: list[str] = typer.Argument(None, help="Evalsets to calibrate on (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare each judge's verdicts with the human labels of the same outputs, and record it.

    Prints n, the confusion matrix (positive = pass), TPR, TNR, accuracy, Cohen's
    kappa with a 95% interval, and the cases where judge and people disagree.
    Judge-type evaluators: judge, pairwise, and any evaluator with `calibrate: true`.

    Example: llmctl judge calibrate support --json
    """
    from llmctl import fmt
    from llmctl.calibrate import calibrate
    from llmctl.errors import InputError
    from llmctl.safetext import terminal_safe
    from llmctl.store import Store

    cfg = _common.load_config()
    if not cfg.store_exists():
        raise InputError(f"no store at {cfg.store_label} yet", hint="run llmctl eval first")
    results = calibrate(Store(cfg.store_location), cfg.root, list(evalsets or []) or None)
    if as_json:
        _common.echo_json([c.to_dict() for c in results])
        return
    if not results:
        typer.echo("no judge verdict has a human label yet (label outputs with llmctl view or llmctl review)")
        return
    for c in results:
        kappa = "undefined" if c.kappa is None else fmt.score(c.kappa)
        ci = f" (95% CI {fmt.interval(c.kappa_ci, fmt.score)})" if c.kappa_ci else ""
        typer.echo(f"judge {terminal_safe(c.evaluator)} {c.judge_hash[:19]}  on {terminal_safe(', '.join(c.evalsets))}")
        typer.echo(f"  n={c.n}  tp={c.tp} fp={c.fp} tn={c.tn} fn={c.fn}")
        typer.echo(f"  TPR {fmt.pct(c.tpr)}  TNR {fmt.pct(c.tnr)}  accuracy {fmt.pct(c.accuracy)}  kappa {kappa}{ci}")
        if c.note:
            typer.echo(f"  note: {c.note}")
        for d in c.disagreements[:20]:
            note = f"  ({terminal_safe(d.note)[:80]})" if d.note else ""
            typer.echo(
                f"  disagree: {terminal_safe(d.case_id)} [{terminal_safe(d.model)}] judge {d.judge}, "
                f"human {d.human}{note}"
            )
        if len(c.disagreements) > 20:
            typer.echo(f"  ... and {len(c.disagreements) - 20} more (--json lists all)")


def register(app: typer.Typer) -> None:
    app.add_typer(judge_app, name="judge")
