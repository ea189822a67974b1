"""`llmctl promote NAME[@REF] --to LABEL`: release a version after its gate, move a label."""

from __future__ import annotations

import typer

from llmctl.cli import _common


def promote(
    spec: str = typer.Argument(..., help="Prompt name, optionally at a version: summarize@main (default: WORKTREE)."),
    to: str = typer.Option(..., "--to", help="The label to move (production, staging, ...)."),
    force: bool = typer.Option(False, "--force", help="Promote despite a failed or missing eval (recorded)."),
    no_commit: bool = typer.Option(False, "--no-commit", help="Write the lockfile but do not commit or tag."),
    message: str = typer.Option(None, "--message", "-m", help="A note for the release, commit and tag."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Release a prompt version and point a label at it, after checking its gate.

    The version's latest run on every evalset that uses the prompt must have
    passed, with no regression against the version the label points at now.
    Writes prompts/llmctl.lock, commits only that file, and tags NAME/vN.
    Promoting an older version is a rollback.

    Example: llmctl promote summarize --to production
    """
    from llmctl import release

    cfg = _common.load_config()
    name, ref = release.split_ref(spec)
    result = release.promote(cfg, name, to, ref, force=force, commit=not no_commit, message=message)
    if as_json:
        _common.echo_json(result.to_dict())
        return
    out = []
    if not result.changed:
        out.extend(result.messages)
    else:
        what = "Released" if result.new_release else "Promoted"
        move = f"{result.previous} -> {result.version}" if result.previous else result.version
        out.append(f"{what} {result.name} {result.version} ({result.hash[:19]}); {result.label}: {move}")
        for record in result.gate.evals:
            verdict = {True: "passed", False: "FAILED", None: "no verdict"}[record.gate_passed]
            out.append(f"  eval {record.evalset}: run {record.run}, gate {verdict}")
            out.extend(f"    {line}" for line in _judge_lines(cfg, record.run))
        for comp in result.gate.comparisons:
            out.append(f"  vs {comp['baseline_run']} on {comp['evalset']}: {comp['verdict'].summary_line()}")
        for note in result.gate.notes:
            out.append(f"  note: {note}")
        if result.forced:
            out.append("  FORCED past the gate: " + "; ".join(result.gate.problems))
        if result.lock_commit:
            out.append(f"  committed {result.lock_commit[:12]} (prompts lockfile only)")
        if result.tag:
            out.append(f"  tagged {result.tag}")
        out.extend(f"  {m}" for m in result.messages)
    from llmctl.safetext import terminal_safe

    typer.echo(terminal_safe("\n".join(out)))  # prompt, label and evalset names come from files


def _judge_lines(cfg, run_id: str | None) -> list[str]:  # type: ignore[no-untyped-def]
    """The calibration of the judges behind a run's gate (nothing when it has no judge)."""
    from llmctl.calibrate import describe, run_judges
    from llmctl.safetext import terminal_safe
    from llmctl.store import Store

    if not run_id or not cfg.store_exists():
        return []
    return [terminal_safe(describe(name, cal)) for name, _h, cal in run_judges(Store(cfg.store_location), run_id)]


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
