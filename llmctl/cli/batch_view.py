"""What `llmctl eval --batch` says after its summary: batches submitted, runs left submitted,
batches that ended without every answer (by count, with the reason), and the batch pricing."""

from __future__ import annotations

from typing import Any

from llmctl.cli import _common

_SOURCES = {
    "litellm": "litellm's batch prices",
    "price": "the alias's price.batch_input_per_1k / batch_output_per_1k",
    "half": "half the normal price",
}


def _say(text: str, style: str = "") -> None:
    from rich.text import Text

    from llmctl.safetext import terminal_safe

    _common.console().print(Text(terminal_safe(text), style=style))


def print_batches(infos: list[Any]) -> None:
    """The batch lines of every run in `infos` that batched (nothing for the others)."""
    for info in infos:
        phase = info.batch
        if phase is None:
            continue
        mine = [s for s in phase.submitted if s[0] == info.run_id or s[0] == info.baseline_run_id]
        if mine:
            requests = sum(s[4] for s in mine)
            judge = sum(1 for s in mine if s[3] == "judge")
            what = f" ({judge} of them for judge calls)" if judge else ""
            _say(f"batch: submitted {len(mine)} batch(es) with {requests} request(s){what}")
        if info.submitted:
            _say(
                f"run {info.run_id}: submitted, not evaluated ({info.submitted} request(s) still in provider batches)",
                "bold",
            )
            _say("gate: not run (the run has not been evaluated yet)")
            _say(f"collect it with: llmctl eval --resume {info.run_id}")
        if phase.ended:
            by_status: dict[str, list[Any]] = {}
            for ended in phase.ended:
                by_status.setdefault(ended.status, []).append(ended)
            parts = []
            for status, items in sorted(by_status.items()):
                unanswered = sum(e.unanswered for e in items)
                reasons = "; ".join(sorted({e.reason for e in items}))
                parts.append(f"{len(items)} {status} ({unanswered} request(s) unanswered: {reasons})")
            _say(
                f"batch: {len(phase.ended)} batch(es) ended without every answer: {', '.join(parts)}; "
                f"those requests are stored as errors, `llmctl eval --resume {info.run_id}` retries only them",
                "yellow",
            )
        if phase.batched_results and phase.price_sources:
            sources = ", ".join(f"{m}: {_SOURCES.get(s, s)}" for m, s in sorted(phase.price_sources.items()))
            _say(f"priced at batch rates ({phase.batched_results} batch result(s); {sources})")
