"""Bounds on what an agent loop keeps and sends (issue 22, item 10).

A model may answer with tool-call arguments of many megabytes, and an agent loop sends every
answer back: without bounds one case of 20 MB arguments over `max_turns: 10` held 4.6 GB and
stored 419 MB. So:

- each stored tool call keeps at most MAX_CALL_ARGUMENTS characters of its argument text; a
  longer one is cut, its `arguments` is null and its `cut` says from what size;
- the stored turns (`turns`) keep at most MAX_TRANSCRIPT characters of earlier answers' text in
  all; a turn cut short (or emptied) says so in its `cut`. The final answer (`output`) is whole;
- a loop stops before a request that would send more than MAX_REQUEST characters of messages
  back to the model: the case's error says why (its turns so far are kept).

Evaluators see what is stored, so a re-run from the cache scores the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_CALL_ARGUMENTS = 256 * 1024
MAX_TRANSCRIPT = 4 * 1024 * 1024
MAX_REQUEST = 8 * 1024 * 1024


def cap_calls(calls: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Tool calls with each argument text cut to MAX_CALL_ARGUMENTS characters (the cut said)."""
    if not calls:
        return calls
    limit = MAX_CALL_ARGUMENTS
    out = []
    for call in calls:
        raw = call.get("raw_arguments")
        if isinstance(raw, str) and len(raw) > limit:
            call = {
                **call,
                "raw_arguments": raw[:limit],
                "arguments": None,
                "cut": f"arguments cut to the first {limit:,} of {len(raw):,} characters (llmctl's limit per call)",
            }
        out.append(call)
    return out


def cap_turns(turns: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Turns whose answers' text adds up to at most MAX_TRANSCRIPT characters (the cuts said)."""
    if not turns:
        return turns
    budget = MAX_TRANSCRIPT
    out = []
    for turn in turns:
        text = turn.get("output")
        turn = {**turn, "tool_calls": cap_calls(turn.get("tool_calls"))}
        if isinstance(text, str) and len(text) > budget:
            turn["output"] = text[:budget]
            turn["cut"] = (
                f"output cut to the first {budget:,} of {len(text):,} characters "
                f"(llmctl stores at most {MAX_TRANSCRIPT:,} of a loop's answers)"
            )
        budget -= len(turn.get("output") or "")
        out.append(turn)
    return out


def message_chars(messages: Sequence[object]) -> int:
    """The characters of text and tool-call arguments in `messages` (what a request carries)."""
    total = 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(str(p.get("text") or "")) for p in content if isinstance(p, dict))
        for call in m.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                total += len(str(fn.get("arguments") or ""))
    return total


def request_too_large(size: int, calls: int) -> str:
    """The error of a loop stopped before a request of `size` characters, after `calls` calls."""
    return (
        f"agent loop stopped after {calls} call(s): the next request would send {size:,} characters "
        f"back to the model, over llmctl's limit of {MAX_REQUEST:,}"
    )


__all__ = ["MAX_CALL_ARGUMENTS", "MAX_REQUEST", "MAX_TRANSCRIPT", "cap_calls", "cap_turns", "message_chars"]
