"""`--where`: a small, safe filter language over traces (parsed here, never passed to eval()).

    expr    := term ("or" term)*
    term    := factor ("and" factor)*
    factor  := "not" factor | "(" expr ")" | FIELD [OP VALUE]
    OP      := == | != | < | <= | > | >= | ~        (~: regular-expression search in the text)
    VALUE   := a number | 'text' | "text" | null | true | false

Fields: model, prompt, version, source, error, finish_reason, output (text); latency_ms, cost_usd,
prompt_tokens, completion_tokens (numbers); `failed` (any of `monitor.evaluators` failed) and
`failed:NAME` (that evaluator failed). A field alone is true when set (`error`, `failed`).

    --where "error"    --where "model == 'gpt-4o' and latency_ms > 2000"    --where "failed:pii or error ~ 'time'"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmctl.errors import InputError

TEXT_FIELDS = ("model", "prompt", "version", "source", "error", "finish_reason", "output")
NUMBER_FIELDS = ("latency_ms", "cost_usd", "prompt_tokens", "completion_tokens")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<op>==|!=|<=|>=|<|>|~)"
    r"|(?P<paren>[()])|(?P<name>[A-Za-z_][A-Za-z0-9_.:/-]*))"
)
Predicate = Callable[[dict[str, Any], Callable[[str | None], bool]], bool]


@dataclass
class Where:
    """A parsed `--where`: `matches(row, failed)` where `failed(name or None)` says whether the row
    failed that evaluator (any, for None). `evaluators` is whether it asks about evaluators at all."""

    text: str
    predicate: Predicate
    evaluators: bool

    def matches(self, row: dict[str, Any], failed: Callable[[str | None], bool]) -> bool:
        return self.predicate(row, failed)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InputError(f"--where: cannot read {text[pos:].strip()[:30]!r} (at character {pos + 1})")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_where(text: str) -> Where:
    """Parse a `--where` expression (InputError with what is wrong)."""
    tokens = _tokens(text)
    pos = 0
    uses_evaluators = False

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise InputError(f"--where: unexpected end of {text!r}")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:
        left = term()
        while (t := peek()) is not None and t == ("name", "or"):
            take()
            right = term()
            left = (lambda a, b: lambda r, f: a(r, f) or b(r, f))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while (t := peek()) is not None and t == ("name", "and"):
            take()
            right = factor()
            left = (lambda a, b: lambda r, f: a(r, f) and b(r, f))(left, right)
        return left

    def factor() -> Predicate:
        nonlocal uses_evaluators
        kind, value = take()
        if (kind, value) == ("name", "not"):
            inner = factor()
            return lambda r, f: not inner(r, f)
        if (kind, value) == ("paren", "("):
            inner = expr()
            if take() != ("paren", ")"):
                raise InputError(f"--where: missing ')' in {text!r}")
            return inner
        if kind != "name":
            raise InputError(f"--where: expected a field, got {value!r}")
        if value == "failed" or value.startswith("failed:"):
            uses_evaluators = True
            name = value.split(":", 1)[1] if ":" in value else None
            return lambda r, f: f(name)
        if value not in TEXT_FIELDS and value not in NUMBER_FIELDS:
            known = ", ".join((*TEXT_FIELDS, *NUMBER_FIELDS, "failed", "failed:NAME"))
            raise InputError(f"--where: unknown field {value!r} (known: {known})")
        field = value
        nxt = peek()
        if nxt is None or nxt[0] != "op":
            return lambda r, f: r.get(field) not in (None, "")
        op = take()[1]
        vkind, raw = take()
        operand: Any
        if vkind == "num":
            operand = float(raw)
        elif vkind == "str":
            operand = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif (vkind, raw) in (("name", "null"), ("name", "true"), ("name", "false")):
            operand = {"null": None, "true": True, "false": False}[raw]
        else:
            raise InputError(f"--where: expected a value after {field} {op}, got {raw!r}")
        return _compare(field, op, operand)

    predicate = expr()
    if pos != len(tokens):
        raise InputError(f"--where: unexpected {tokens[pos][1]!r} in {text!r}")
    return Where(text, predicate, uses_evaluators)


def _compare(field: str, op: str, operand: Any) -> Predicate:
    if op == "~":
        if not isinstance(operand, str):
            raise InputError(f"--where: {field} ~ needs a quoted pattern")
        try:
            pattern = re.compile(operand)
        except re.error as exc:
            raise InputError(f"--where: invalid pattern {operand!r}: {exc}") from None
        return lambda r, f: isinstance(r.get(field), str) and pattern.search(r[field]) is not None
    if op in ("<", "<=", ">", ">=") and (field not in NUMBER_FIELDS or not isinstance(operand, float)):
        raise InputError(f"--where: {op} compares a number field ({', '.join(NUMBER_FIELDS)}) with a number")

    def get(r: dict[str, Any]) -> Any:
        value = r.get(field)
        return float(value) if field in NUMBER_FIELDS and value is not None else value

    if op == "==":
        return lambda r, f: get(r) == operand
    if op == "!=":
        return lambda r, f: get(r) != operand
    cmp: Callable[[Any, Any], bool] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]
    return lambda r, f: get(r) is not None and cmp(get(r), operand)
