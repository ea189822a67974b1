"""The report of one `llmctl eval` invocation: its runs merged into one report, its results
exported as one file, and the report of an invocation that stored no run (every evalset
skipped by `--changed-only`, or a dry run). The CLI only prints what was written."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl import fmt, outputs
from llmctl.reports._context import report_context
from llmctl.safetext import html_text, md_inline, xml_safe
from llmctl.summary import RunSummary, summarize
from llmctl.types import CaseOutcome
from llmctl.verdict import Verdict, combine_verdicts

if TYPE_CHECKING:
    from llmctl.run import EvalOutcome
    from llmctl.store import Store


def combined_report(
    store: Store, runs: Sequence[tuple[str, Verdict | None]], root: Path | None = None
) -> tuple[dict[str, Any], list[CaseOutcome], Verdict | None, RunSummary]:
    """One report over the runs of one invocation (one per evalset, given as (run id, verdict)):
    meta, outcomes, verdict and the run summary (as each run stored it; the groups of several runs
    named by evalset)."""
    rows = [store.get_run(run_id) for run_id, _ in runs]
    meta: dict[str, Any] = (
        rows[0].to_dict()
        if len(rows) == 1
        else {
            "id": ", ".join(r.id for r in rows),
            "evalset": ", ".join(str(r.evalset) for r in rows),
            "git_commit": rows[0].git_commit,
            "git_branch": rows[0].git_branch,
            "started_at": rows[0].started_at,
            "runs": [r.to_dict() for r in rows],
        }
    )
    if len(rows) == 1 and root is not None:
        meta["context"] = report_context(store, rows[0], root)
    outcomes = [o for run_id, _ in runs for o in store.outcomes(run_id)]
    summaries = [r.summary or RunSummary() for r in rows]
    for i, (r, s) in enumerate(zip(rows, summaries, strict=True)):
        if not s.groups:  # a run that stored no summary (an older or unfinished one): from its results
            summaries[i] = summarize(store.outcomes(r.id))
    summary = (
        summaries[0]
        if len(summaries) == 1
        else RunSummary.combine((str(r.evalset), s) for r, s in zip(rows, summaries, strict=True))
    )
    verdict = combine_verdicts([v for _, v in runs if v is not None])
    summary.verdict = verdict
    return meta, outcomes, verdict, summary


def export_results(store: Store, run_ids: list[str], path: Path, fmt: str) -> None:
    """Results of every run of this invocation as one JSONL or CSV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(run_ids) == 1:
        store.export(run_ids[0], fmt, path)
        return
    with tempfile.TemporaryDirectory() as tmp, path.open("w", encoding="utf-8") as out:
        for i, run_id in enumerate(run_ids):
            part = Path(tmp) / f"{i}.{fmt}"
            store.export(run_id, fmt, part)
            with part.open(encoding="utf-8") as fh:
                if fmt == "csv" and i > 0:
                    fh.readline()  # one header only
                for line in fh:
                    out.write(line)


def write_text_report(path: Path, markdown: str, payload: dict[str, Any]) -> None:
    """A report of an invocation that stored no run (all skipped, or a dry run), in every format."""
    suffix = outputs.check(path).suffix
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".md":
        path.write_text(markdown, encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif suffix == ".html":
        body = "".join(f"<p>{html_text(line)}</p>" for line in markdown.splitlines() if line.strip())
        path.write_text(
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>llmctl</title></head>'
            f"<body>{body}</body></html>\n",
            encoding="utf-8",
        )
    elif suffix == ".xml":
        name = xml_safe(payload.get("status", "llmctl")).replace('"', "'")
        path.write_text(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="llmctl {name}" tests="0" failures="0"/>\n',
            encoding="utf-8",
        )
    else:  # .jsonl / .csv: no results
        path.write_text("", encoding="utf-8")


def skipped_report(skipped: Sequence[str], baseline: str | None) -> tuple[str, dict[str, Any]]:
    """`--changed-only` skipped every evalset: (Markdown, JSON payload) of a current report, so an
    old FAIL comment is replaced."""
    names = ", ".join(md_inline(n) for n in skipped)
    markdown = (
        "## ✅ llmctl: nothing to evaluate\n\n"
        f"No evalset affected by this change (compared with {md_inline(baseline or '')}): "
        "nothing any evalset depends on changed (prompts and includes, evalset files, their data, "
        "python evaluator modules, judge prompts, the llmctl.yaml entries they use).\n\n"
        f"Not evaluated: {names}.\n"
    )
    payload = {"status": "SKIPPED", "baseline": baseline, "skipped": list(skipped)}
    return markdown, payload


def dry_run_report(outcome: EvalOutcome, baseline: str | None) -> tuple[str, dict[str, Any]]:
    """A dry run's (Markdown, JSON payload): what would be evaluated, how many calls, estimated
    tokens and cost."""
    lines = [
        "## ℹ️ llmctl: dry run (not evaluated)",
        "",
        "This run had no model access (no secrets: a pull request from a fork, or `--dry-run`). "
        "Every case was rendered and validated; no model was called. A maintainer can evaluate it "
        "by re-running the workflow from a branch of this repository.",
        "",
    ]
    if outcome.dry_run_by_evalset:
        lines += ["| evalset | calls |", "| --- | --- |"]
        lines += [f"| {md_inline(n)} | {c} |" for n, c in outcome.dry_run_by_evalset.items()]
        lines.append("")
    cost = "" if outcome.dry_run_cost is None else f", about {fmt.usd(outcome.dry_run_cost)} for the prompts"
    lines.append(
        f"{outcome.dry_run_cases} call(s), about {fmt.count(outcome.dry_run_tokens)} prompt token(s){cost} "
        "(completions not included)."
    )
    if outcome.skipped:
        lines += [
            "",
            f"Not affected by this change (vs {md_inline(baseline or '')}): "
            + ", ".join(md_inline(n) for n in outcome.skipped)
            + ".",
        ]
    payload = {
        "status": "DRY RUN",
        "calls": outcome.dry_run_cases,
        "calls_by_evalset": dict(outcome.dry_run_by_evalset),
        "estimated_prompt_tokens": outcome.dry_run_tokens,
        "estimated_prompt_cost_usd": outcome.dry_run_cost,
        "skipped": list(outcome.skipped),
    }
    return "\n".join(lines) + "\n", payload
