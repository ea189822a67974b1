"""`llmctl review`: label a run's outputs at the terminal, seeing what the reviewer needs to judge.

Each item shows the rendered input (the last user message; all messages on `i`), the expected
value and expected tool calls, every evaluator's verdict with its reason, and the answer turn by
turn (text, tool calls with pretty-printed arguments, finish reason: llmctl.transcript). The keys:
`p` pass, `f` fail (a note may follow on the same line: `f wrong total`), `n` write a note for
the next label, `s` skip, `b` back to the previous item (its label may be changed), `i` all
input messages, `q` quit. Labels are written as they are given, so quitting loses nothing.

    from llmctl.review import review_items, run_review
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl import fmt
from llmctl.safetext import terminal_safe
from llmctl.transcript import answer_lines, answer_view, expected_calls

if TYPE_CHECKING:
    from llmctl.store import RunRecord, Store

PROMPT = "label: [p]ass [f]ail [s]kip [n]ote [b]ack [i]nput [q]uit > "
HELP = (
    "  p pass · f fail (a note may follow: 'f wrong total') · n note for the next label · s skip · "
    "b back · i show all input messages / only the last user message · q quit"
)


@dataclass
class ReviewItem:
    """One result to label, with what the reviewer sees."""

    case_id: str
    model: str
    repeat_index: int
    output: str
    passed: bool
    tool_calls: Any = None  # as stored: part of the output's identity (docs/viewer.md, labels)
    turns: Any = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    expected: Any = None
    expected_tool_calls: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)
    label: str | None = None  # its current human label (pass/fail), if any
    note: str = ""


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def review_items(store: Store, run: RunRecord, root: Path, *, failed_only: bool, all_results: bool) -> list[ReviewItem]:
    """The results of `run` to review: with an output; only failed ones with `failed_only`; only
    unlabelled ones unless `all_results`."""
    from llmctl.labels import LabelIndex, has_output, labels_path, read_labels
    from llmctl.reports._context import report_context

    index = LabelIndex(read_labels(labels_path(root, str(run.evalset or ""))))
    cases = report_context(store, run, root).get("cases") or {}
    items = []
    for row in store.results_table(str(run.id)).to_pylist():
        if not has_output(row):
            continue  # an error: nothing to label
        scores = [s for s in row.get("scores") or [] if s is not None]
        passed = row.get("error") is None and all(s.get("passed") is not False and not s.get("error") for s in scores)
        if failed_only and passed:
            continue
        label = index.of(row)
        if label is not None and not all_results:
            continue
        ctx = cases.get(row["case_id"]) or {}
        messages = _loads(row.get("input"))
        items.append(
            ReviewItem(
                case_id=str(row["case_id"]),
                model=str(row["model"]),
                repeat_index=int(row.get("repeat_index") or 0),
                output=str(row["output"] or ""),
                passed=passed,
                tool_calls=row.get("tool_calls"),
                turns=row.get("turns"),
                messages=messages if isinstance(messages, list) else [],
                expected=_loads(row.get("expected")),
                expected_tool_calls=expected_calls(ctx.get("expected_tool_calls")),
                scores=scores,
                answer=answer_view(row["output"], row.get("tool_calls"), row.get("finish_reason"), row.get("turns")),
                label=label.label if label is not None else None,
                note=label.note if label is not None else "",
            )
        )
    return items


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: text, and image placeholders
        parts = []
        for p in content:
            if isinstance(p, dict) and p.get("type") == "text":
                parts.append(str(p.get("text") or ""))
            elif isinstance(p, dict) and isinstance(p.get("image_url"), dict):
                parts.append(str(p["image_url"].get("url") or "[image]"))
            else:
                parts.append(json.dumps(p, ensure_ascii=False, default=str))
        return "\n".join(parts)
    return "" if content is None else json.dumps(content, ensure_ascii=False, default=str)


def _message_lines(m: dict[str, Any], indent: str) -> list[str]:
    lines = [f"{indent}[{m.get('role', '?')}]"]
    lines += [indent + "  " + line for line in _content_text(m.get("content")).splitlines()]
    for c in m.get("tool_calls") or []:
        fn = c.get("function") if isinstance(c, dict) and isinstance(c.get("function"), dict) else c
        if isinstance(fn, dict):
            lines.append(
                f"{indent}  -> {fn.get('name')}({fn.get('arguments') if fn.get('arguments') is not None else ''})"
            )
    return lines


def item_lines(item: ReviewItem, position: str, *, all_messages: bool = False) -> list[str]:
    """What the reviewer sees of one item, as plain lines (not yet made safe for the terminal)."""
    sample = f" · sample {item.repeat_index}" if item.repeat_index else ""
    head = (
        f"{position} case {item.case_id} · model {item.model}{sample} · automatic: {'pass' if item.passed else 'FAIL'}"
    )
    if item.label:
        head += f" · your label: {item.label}" + (f" ({item.note})" if item.note else "")
    lines = [head]
    users = [m for m in item.messages if isinstance(m, dict) and m.get("role") == "user"]
    if all_messages or not users:
        lines.append(f"input ({len(item.messages)} message(s); i: only the last user message):")
        for m in item.messages:
            if isinstance(m, dict):
                lines += _message_lines(m, "  ")
    else:
        lines.append(f"input (the last user message; i: all {len(item.messages)} messages):")
        lines += ["  " + line for line in _content_text(users[-1].get("content")).splitlines()]
    if item.expected is not None:
        text = item.expected if isinstance(item.expected, str) else json.dumps(item.expected, ensure_ascii=False)
        lines.append("expected:")
        lines += ["  " + line for line in text.splitlines()]
    if item.expected_tool_calls:
        lines.append("expected tool calls:")
        lines += [f"  -> {c['name']}({c['inline']})" for c in item.expected_tool_calls]
    if item.scores:
        lines.append("evaluators:")
        for s in item.scores:
            if s.get("error"):
                verdict, why = "ERROR", s.get("error")
            elif s.get("passed") is None:
                verdict, why = "unscored", s.get("reason")
            else:
                verdict, why = ("pass" if s.get("passed") else "FAIL"), s.get("reason")
            why_text = " ".join(str(why or "").split())
            lines.append(
                f"  {verdict:<8} {s.get('evaluator')} {fmt.score(s.get('score'))}"
                + (f"  {why_text[:300]}" if why_text else "")
            )
    turns = len(item.answer.get("turns") or [])
    lines.append(f"answer ({turns} turns):" if turns > 1 else "answer:")
    lines += answer_lines(item.answer, indent="  ")
    return lines


Ask = Callable[[str], str | None]  # shows a prompt, returns the line typed (None at end of input)
Save = Callable[[ReviewItem, str, str], None]  # (item, "pass"|"fail", note)


def run_review(items: list[ReviewItem], ask: Ask, show: Callable[[str], None], save: Save) -> int:
    """The keyboard loop over `items`; returns how many items were labelled (each counted once)."""
    labelled: set[int] = set()
    i, all_messages, note = 0, False, ""
    redraw = True
    while 0 <= i < len(items):
        item = items[i]
        if redraw:
            show("")
            for text in item_lines(item, f"[{i + 1}/{len(items)}]", all_messages=all_messages):
                show(terminal_safe(text))
            if note:
                show(terminal_safe(f"  (note for the next label: {note})"))
        redraw = True
        typed = ask(PROMPT)
        if typed is None:  # end of input: stop, keeping what was labelled
            break
        key, _, rest = typed.strip().partition(" ")
        key = key.lower()
        if key in ("p", "pass", "f", "fail"):
            label = "pass" if key.startswith("p") else "fail"
            text = rest.strip() or note
            save(item, label, text)
            item.label, item.note, note = label, text, ""
            labelled.add(i)
            i += 1
        elif key in ("n", "note"):
            note = rest.strip() or (ask("  note: ") or "").strip()
            redraw = False
            show(terminal_safe(f"  note kept for the next label: {note}" if note else "  no note"))
        elif key in ("s", "skip"):
            i += 1
        elif key in ("b", "back"):
            if i == 0:
                show("  this is the first item")
                redraw = False
            i = max(0, i - 1)
        elif key in ("i", "input"):
            all_messages = not all_messages
        elif key in ("q", "quit"):
            break
        else:
            show(HELP)
            redraw = False
    return len(labelled)
