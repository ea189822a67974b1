"""What a model answered, turn by turn: the one view of a result's text, tool calls and finish
reason that the viewer's pages and `llmctl review` show (a leaf module: the standard library only).

A result without an agent loop is one turn. With a loop (or scripted user turns) every model call
is a turn, as stored in `results.turns`: its text, its tool calls (name, arguments
pretty-printed, or the raw text the model sent when it is not JSON) and its finish reason, and
`user_turn` (0: the rendered prompt; N: after the N-th scripted user message).

    from llmctl.transcript import answer_view, answer_lines
"""

from __future__ import annotations

import json
from typing import Any

INLINE_ARGUMENTS = 60  # the terminal shows arguments this short on the call's line, longer ones pretty-printed


def _loads(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def pretty_arguments(call: dict[str, Any]) -> str:
    """A call's arguments as indented JSON; the raw text when the model's was not JSON."""
    args = call.get("arguments")
    if args is None and "args" in call:  # an expected call: {name, args}
        args = call.get("args")
    if args is None:
        raw = call.get("raw_arguments")
        return str(raw) if raw not in (None, "") else "{}"
    return json.dumps(args, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _calls(value: Any) -> list[dict[str, Any]]:
    calls = _loads(value)
    if not isinstance(calls, list):
        return []
    out = []
    for c in calls:
        if not isinstance(c, dict):
            continue
        pretty = pretty_arguments(c)
        try:
            inline = json.dumps(json.loads(pretty), ensure_ascii=False, sort_keys=True)
        except ValueError:
            inline = " ".join(pretty.split())
        out.append(
            {"name": str(c.get("name") or "?"), "arguments": pretty, "inline": inline, "id": str(c.get("id") or "")}
        )
    return out


def answer_view(
    output: str | None, tool_calls: Any = None, finish_reason: Any = None, turns: Any = None
) -> dict[str, Any]:
    """`{"turns": [{n, user_turn, text, calls: [{name, arguments, id}], finish_reason}], "finish_reason",
    "calls" (how many), "text"}` of one stored result (JSON text or parsed values)."""
    stored = _loads(turns)
    items: list[dict[str, Any]] = []
    if isinstance(stored, list) and stored:
        for i, t in enumerate(stored, start=1):
            if not isinstance(t, dict):
                continue
            items.append(
                {
                    "n": i,
                    "user_turn": int(t.get("user_turn") or 0),
                    "text": t.get("output") if isinstance(t.get("output"), str) else "",
                    "calls": _calls(t.get("tool_calls")),
                    "finish_reason": t.get("finish_reason"),
                    "error": t.get("error"),
                }
            )
    if not items:
        items = [
            {
                "n": 1,
                "user_turn": 0,
                "text": output or "",
                "calls": _calls(tool_calls),
                "finish_reason": finish_reason,
                "error": None,
            }
        ]
    return {
        "turns": items,
        "finish_reason": finish_reason if finish_reason is not None else items[-1]["finish_reason"],
        "calls": sum(len(t["calls"]) for t in items),
        "text": output or "",
    }


def expected_calls(value: Any) -> list[dict[str, Any]]:
    """A case's `expected_tool_calls` ([{name, args}]) as the view shows calls."""
    return _calls(value)


def answer_lines(view: dict[str, Any], *, indent: str = "") -> list[str]:
    """The view as plain text lines for the terminal: each turn's text and calls, with its finish reason."""
    lines: list[str] = []
    several = len(view["turns"]) > 1
    for t in view["turns"]:
        if several:
            user = f", after user turn {t['user_turn']}" if t["user_turn"] else ""
            lines.append(f"{indent}turn {t['n']}{user} (finish reason {t['finish_reason'] or '-'})")
        pad = indent + ("  " if several else "")
        if t["text"]:
            lines += [pad + line for line in t["text"].splitlines()]
        for c in t["calls"]:
            if len(c["inline"]) <= INLINE_ARGUMENTS:  # short arguments on the call's line
                lines.append(f"{pad}-> {c['name']}({c['inline']})")
            else:  # long ones pretty-printed below it
                lines.append(f"{pad}-> {c['name']}(")
                lines += [pad + "     " + a for a in c["arguments"].splitlines()] + [pad + "   )"]
        if t.get("error"):
            lines.append(f"{pad}error: {t['error']}")
        if not t["text"] and not t["calls"] and not t.get("error"):
            lines.append(pad + "(empty answer)")
    if not several:
        lines.append(f"{indent}(finish reason {view['finish_reason'] or '-'})")
    return lines
