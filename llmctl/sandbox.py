"""The Jinja sandbox prompts render in, with limits on time, size and depth.

Prompts may come from untrusted pull requests. Jinja's immutable sandbox stops
attribute tricks, but not a template that computes `9 ** 999999999` (which
Jinja would even constant-fold at compile time), repeats a string 10**10 times,
formats with a width of three billion, loops 10**10 times, recurses without
end or includes itself. `LimitedEnvironment` bounds each of these:

- integers: results of `*`, `**` and `+` beyond `MAX_INT_BITS` bits are refused
  (intercepted operators are never constant-folded by Jinja's optimizer);
- sizes: strings, lists and output built by `*`, `+`, `~`, filters, buffers
  (macros, `{% set %}` blocks) and the rendered text beyond `MAX_OUTPUT_CHARS`;
- widths: format widths and precisions (`%`, `format`, `str.format`,
  `center`, `indent`, ...) and integer filter arguments beyond `MAX_WIDTH`;
- depth: nested calls (macros, recursive loops) beyond `MAX_CALL_DEPTH`;
- includes: `MAX_INCLUDES` include/import executions per render (cycles and
  chains deeper than `MAX_INCLUDE_DEPTH` are refused before rendering, in
  `llmctl.prompt`);
- time: `RENDER_TIMEOUT_S` per render (checked at every call, include, loop
  iteration batch and output batch), and the run's `--deadline` (`deadline()`).

Each limit raises `RenderLimit`; `Prompt.render` turns it into an input error
(exit 2) naming the file and line, or `DeadlineExceeded` (exit 3) for the deadline.
"""

from __future__ import annotations

import re
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from itertools import islice
from typing import Any, TypeVar

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from markupsafe import Markup

from llmctl.errors import InfraError

MAX_OUTPUT_CHARS = 4_000_000  # one rendered prompt (all messages); also any one string or list built
MAX_WIDTH = 100_000  # format widths/precisions, filter and str-method integer arguments
MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_CALL_DEPTH = 64  # nested macro/loop()/callable calls
MAX_INCLUDES = 10_000  # include/import executions in one render
MAX_INCLUDE_DEPTH = 32  # a chain of includes (checked statically)
RENDER_TIMEOUT_S = 10.0  # one render of one prompt
_CHECK_EVERY = 256  # loop iterations / output chunks between clock checks


class RenderLimit(Exception):
    """A template went past one of the render limits (the message says which)."""


class DeadlineExceeded(InfraError):
    """The run's `--deadline` passed while a prompt was rendering: exit 3."""


class _Budget:
    """The limits of one render in progress (one per thread)."""

    __slots__ = ("depth", "ends", "includes", "is_deadline", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.ends = time.monotonic() + timeout
        self.is_deadline = False
        if _global_deadline is not None and _global_deadline < self.ends:
            self.ends = _global_deadline
            self.is_deadline = True
            self.tick()
        self.depth = 0
        self.includes = 0

    def tick(self) -> None:
        if time.monotonic() > self.ends:
            if self.is_deadline:
                raise _DeadlineLimit("the run's --deadline passed while rendering")
            raise RenderLimit(f"rendering took longer than {self.timeout:g} s (the render time limit)")


class _DeadlineLimit(RenderLimit):
    pass


_state = threading.local()
_global_deadline: float | None = None


def _budget() -> _Budget | None:
    return getattr(_state, "budget", None)


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Renders inside this block also stop at `at` (a `time.monotonic()` value; None: no deadline)."""
    global _global_deadline
    previous = _global_deadline
    _global_deadline = at
    try:
        yield
    finally:
        _global_deadline = previous


def start() -> bool:
    """Start the budget of one render; False when one is already running (a nested render).

    Call `stop()` after the render (in a `finally:`) when this returned True.
    """
    if getattr(_state, "budget", None) is not None:
        return False
    _state.budget = _Budget(RENDER_TIMEOUT_S)
    return True


def stop() -> None:
    _state.budget = None


@contextmanager
def budget() -> Iterator[None]:
    """Run one render under the limits (nested renders share the outer budget)."""
    started = start()
    try:
        yield
    finally:
        if started:
            stop()


def is_deadline(exc: RenderLimit) -> bool:
    return isinstance(exc, _DeadlineLimit)


# -- sizes ---------------------------------------------------------------------------------------


def _size(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """Roughly how many characters `value` expands to (shared references counted each time).

    Stops counting once past `limit`, so it is cheap for any value.
    """
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        total = len(value)
        stack: list[Any] = [value]
        while stack and total <= limit:
            item = stack.pop()
            items = item.items() if isinstance(item, dict) else item
            for element in items:
                if isinstance(element, tuple) and isinstance(item, dict):
                    key, element = element
                    total += _size(key, limit) if isinstance(key, (str, bytes)) else 8
                if isinstance(element, (str, bytes)):
                    total += len(element)
                elif isinstance(element, (list, tuple, set, frozenset, dict)):
                    total += len(element)
                    stack.append(element)
                else:
                    total += 8
                if total > limit:
                    break
        return total
    return 8


def _too_big(what: str, size: int) -> RenderLimit:
    return RenderLimit(f"{what} would be over {MAX_OUTPUT_CHARS:,} characters ({size:,} or more)")


_T = TypeVar("_T")


def _check_text(value: _T, what: str = "a string") -> _T:
    if isinstance(value, (str, bytes)) and len(value) > MAX_OUTPUT_CHARS:
        raise _too_big(what, len(value))
    return value


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RenderLimit(f"a number of {value.bit_length():,} bits (limit {MAX_INT_BITS:,})")
    return value


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and not isinstance(width, bool) and abs(width) > MAX_WIDTH:
        raise RenderLimit(f"{what} {width:,} is too large (limit {MAX_WIDTH:,})")


_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBERS = re.compile(r"\d+")


def _as_int(digits: str) -> int:
    return int(digits) if len(digits) < 100 else 10**99


def _check_printf(fmt: str, args: Any) -> None:
    """Widths and precisions of `fmt % args` (and of `*` taken from the arguments)."""
    star = False
    for match in _PRINTF.finditer(fmt):
        for part in match.groups():
            if part == "*":
                star = True
            elif part is not None:
                _check_width(_as_int(part), "a format width")
    if star:
        for arg in args if isinstance(args, tuple) else (args,):
            _check_width(arg, "a format width")


def _check_spec(spec: str) -> None:
    for number in _SPEC_NUMBERS.findall(spec):
        _check_width(_as_int(number), "a format width")


class _LimitedFormatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_spec(format_spec)
        return _check_text(super().format_field(value, format_spec))


class _LimitedEscapeFormatter(SandboxedEscapeFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_spec(format_spec)
        return _check_text(super().format_field(value, format_spec))


# -- iteration, buffers, output -----------------------------------------------------------------


def _guard_iter(iterable: Any) -> Iterator[Any]:
    """A `{% for %}` loop's iterable, with the clock checked every few iterations."""
    b = _budget()
    if b is None:
        yield from iterable
        return
    it = iter(iterable)
    while True:
        batch = list(islice(it, _CHECK_EVERY))
        if not batch:
            return
        b.tick()
        yield from batch


@jinja2.pass_context
def _iter_filter(context: Any, iterable: Any) -> Any:
    if type(iterable) in _SIZED and len(iterable) <= _CHECK_EVERY:
        b = _budget()
        if b is not None:
            b.tick()
        return iterable  # one batch: the clock is checked once, here
    return _guard_iter(iterable)


_SIZED = (list, tuple, range, dict, str)


_ITER_FILTER = "llmctl_iter"


class _Buffer(list[Any]):
    """The output buffer of a macro, `{% set %}` block, filter block or recursive loop."""

    __slots__ = ("_chars",)

    def __init__(self) -> None:
        super().__init__()
        self._chars = 0

    def append(self, item: Any) -> None:
        self._chars += len(item) if isinstance(item, str) else 8
        if self._chars > MAX_OUTPUT_CHARS:
            raise _too_big("a block's output", self._chars)
        if len(self) % _CHECK_EVERY == 0:
            b = _budget()
            if b is not None:
                b.tick()
        super().append(item)

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.append(item)


def _limited_concat(chunks: Iterable[str]) -> str:
    """`Template.render`'s join of the output, with the size and the clock checked per batch."""
    it = iter(chunks)
    parts = list(islice(it, _CHECK_EVERY))
    if len(parts) < _CHECK_EVERY:  # the usual case: a short template, one batch
        text = "".join(parts)
        if len(text) > MAX_OUTPUT_CHARS:
            raise _too_big("the rendered prompt", len(text))
        return text
    total = sum(map(len, parts))
    if total > MAX_OUTPUT_CHARS:
        raise _too_big("the rendered prompt", total)
    b = _budget()
    while True:
        if b is not None:
            b.tick()
        batch = list(islice(it, _CHECK_EVERY))
        if not batch:
            return "".join(parts)
        total += sum(map(len, batch))
        if total > MAX_OUTPUT_CHARS:
            raise _too_big("the rendered prompt", total)
        parts.extend(batch)


class _LimitedCodeGenerator(CodeGenerator):
    """Buffers that count what they hold, and `~` results checked for size."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.llmctl_buffer()")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.llmctl_text(")
        super().visit_Concat(node, frame)
        self.write(")")


# -- filters and methods -----------------------------------------------------------------------


def limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter with its integer arguments, known blow-ups and its result checked."""
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # eval_ctx/environment first
    special = name in _SPECIAL_FILTERS

    @wraps(func)
    def limited(*args: Any, **kwargs: Any) -> Any:
        if len(args) > offset + 1 or kwargs:
            rest = args[offset + 1 :]
            for arg in (*rest, *kwargs.values()):
                if type(arg) is int and (arg > MAX_WIDTH or arg < -MAX_WIDTH):
                    _check_width(arg, f"the argument of '{name}'")
            if special:
                _before(name, args[offset], rest, kwargs)
        elif special and len(args) > offset:
            _before(name, args[offset], (), kwargs)
        result = func(*args, **kwargs)
        if type(result) is str and len(result) > MAX_OUTPUT_CHARS:
            raise _too_big(f"the result of '{name}'", len(result))
        return result

    return limited


# Filters whose result is at most a few times the size of their input (already within the
# limits) whatever their arguments: they run unwrapped.
_LINEAR_FILTERS = frozenset(
    {"upper", "lower", "capitalize", "title", "trim", "length", "count", "first", "last", "abs", "int"}
    | {"float", "e", "escape", "forceescape", "striptags", "wordcount", "safe", "items", "min", "max"}
    | {"random", "filesizeformat", "attr", "default", "d", "urlencode"}
)
_SPECIAL_FILTERS = frozenset(
    {"format", "replace", "indent", "wordwrap", "sum"}
    | {"join", "list", "string", "pprint", "tojson", "unique", "sort", "dictsort", "reverse"}
)


def _before(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name == "format" and isinstance(value, str):
        _check_printf(value, tuple(args) or tuple(kwargs.values()))
    elif name == "replace" and isinstance(value, str) and args:
        old = str(args[0])
        new = str(args[1]) if len(args) > 1 else str(kwargs.get("new", ""))
        _check_replace(value, old, new)
    elif name == "indent" and isinstance(value, str):
        width = args[0] if args else kwargs.get("width", 4)
        add = len(width) if isinstance(width, str) else (width if isinstance(width, int) else 4)
        size = len(value) + (value.count("\n") + 1) * add
        if size > MAX_OUTPUT_CHARS:
            raise _too_big("the result of 'indent'", size)
    elif name == "wordwrap" and isinstance(value, str):
        width = args[0] if args else kwargs.get("width", 79)
        wrap = args[2] if len(args) > 2 else kwargs.get("wrapstring") or "\n"
        lines = len(value) // max(1, width if isinstance(width, int) else 1) + value.count("\n") + 1
        size = len(value) + lines * len(str(wrap))
        if size > MAX_OUTPUT_CHARS:
            raise _too_big("the result of 'wordwrap'", size)
    elif name in ("join", "list", "string", "pprint", "tojson", "unique", "sort", "dictsort", "reverse"):
        size = _size(value)
        sep = args[0] if name == "join" and args else kwargs.get("d", "")
        if name == "join" and isinstance(value, (list, tuple)):
            size += len(value) * len(str(sep))
        if size > MAX_OUTPUT_CHARS:
            raise _too_big(f"the result of '{name}'", size)
    elif name == "sum":
        start = args[1] if len(args) > 1 else kwargs.get("start", 0)
        if not isinstance(start, (int, float)):
            raise RenderLimit("'sum' adds numbers only")


def _check_replace(s: str, old: str, new: str) -> None:
    hits = s.count(old) if old else len(s) + 1
    size = len(s) + hits * (len(new) - len(old))
    if size > MAX_OUTPUT_CHARS:
        raise _too_big("the result of 'replace'", size)


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Pre-checks for the `str`/`bytes` methods that can build huge strings; returns the args."""
    owner = method.__self__
    name = method.__name__
    if name in ("center", "ljust", "rjust", "zfill", "expandtabs"):
        for arg in (*args, *kwargs.values()):
            _check_width(arg, f"the width of '{name}'")
        if name == "expandtabs":
            size = len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * int(
                args[0] if args else kwargs.get("tabsize", 8)
            )
            if size > MAX_OUTPUT_CHARS:
                raise _too_big("the result of 'expandtabs'", size)
    elif name == "replace" and len(args) >= 2 and isinstance(owner, str):
        _check_replace(owner, str(args[0]), str(args[1]))
    elif name == "join" and args:
        items = list(args[0])
        size = _size(items) + len(items) * len(owner)
        if size > MAX_OUTPUT_CHARS:
            raise _too_big("the result of 'join'", size)
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1)
        size = len(owner) * max(1, longest)
        if size > MAX_OUTPUT_CHARS:
            raise _too_big("the result of 'translate'", size)
    return args


# -- the environment -----------------------------------------------------------------------------


def _finalize(value: Any) -> Any:
    """Every `{{ value }}` before it becomes text: a list of many references to one big string
    would print as far more than its memory."""
    if type(value) in _CONTAINERS and _size(value) > MAX_OUTPUT_CHARS:
        raise _too_big("a printed value", _size(value))
    return value


_CONTAINERS = (list, tuple, dict, set, frozenset)


def _safe_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_WIDTH:
        raise RenderLimit(f"range() of {len(rng):,} items (limit {MAX_WIDTH:,})")
    return rng


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox plus the limits above (see the module docstring)."""

    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_limited_concat)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("finalize", _finalize)
        super().__init__(*args, **kwargs)
        self.filters = {
            name: func if name in _LINEAR_FILTERS else limited_filter(name, func) for name, func in self.filters.items()
        }
        self.globals["range"] = _safe_range
        self.llmctl_buffer = _Buffer
        self.llmctl_text = _check_text
        self.filters[_ITER_FILTER] = _iter_filter

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            tree = super()._parse(source, name, filename)
        except ValueError as exc:  # the lexer's int() of a literal of thousands of digits
            long_number = re.search(r"\d{4000,}", source)
            line = source.count("\n", 0, long_number.start()) + 1 if long_number else 1
            raise jinja2.TemplateSyntaxError(f"invalid literal: {exc}", line, name, filename) from None
        # Jinja never constant-folds an intercepted operator; fold the constant ones that
        # pass the limits here, so `{{ '%s-%d' % ('a', 1) }}` costs nothing at render time.
        eval_ctx = nodes.EvalContext(self, name)
        for expr in reversed(list(tree.find_all(nodes.BinExpr))):
            if expr.operator not in self.intercepted_binops:
                continue
            try:
                left, right = expr.left.as_const(eval_ctx), expr.right.as_const(eval_ctx)
                value = self.call_binop(None, expr.operator, left, right)  # type: ignore[arg-type]
                folded = nodes.Const.from_untrusted(value, lineno=expr.lineno, environment=self)
            except Exception:  # noqa: S112 - left for render time, where it fails at file:line
                continue
            _replace_node(tree, expr, folded)
        for loop in tree.find_all(nodes.For):
            # `for x in ITER` becomes `for x in ITER|llmctl_iter`: a direct call (filters skip the
            # sandbox's call path) that context-passing keeps from being constant-folded.
            loop.iter = nodes.Filter(loop.iter, _ITER_FILTER, [], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                bits = (abs(left).bit_length() - 1) * right
                if bits > MAX_INT_BITS:
                    raise RenderLimit(f"{left} ** {right} has about {bits:,} bits (limit {MAX_INT_BITS:,})")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(n, int) and not isinstance(seq, int) and isinstance(seq, (str, bytes, list, tuple)):
                    size = _size(seq) * n
                    if size > MAX_OUTPUT_CHARS:
                        raise _too_big("a repeated string or list", size)
            if isinstance(left, int) and isinstance(right, int):
                bits = left.bit_length() + right.bit_length()
                if bits > MAX_INT_BITS:
                    raise RenderLimit(f"a product of about {bits:,} bits (limit {MAX_INT_BITS:,})")
        elif operator == "+":
            if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
                size = _size(left) + _size(right)
                if size > MAX_OUTPUT_CHARS:
                    raise _too_big("a concatenation", size)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return _check_int(self.binop_table[operator](left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        b = _budget()
        if b is None:
            return super().call(__context, __obj, *args, **kwargs)
        b.tick()
        if isinstance(__obj, types.BuiltinMethodType) and isinstance(getattr(__obj, "__self__", None), (str, bytes)):
            args = _check_method(__obj, args, kwargs)
        b.depth += 1
        try:
            if b.depth > MAX_CALL_DEPTH:
                raise RenderLimit(f"calls nested more than {MAX_CALL_DEPTH} deep (recursive macro?)")
            return _check_text(super().call(__context, __obj, *args, **kwargs), "a call's result")
        finally:
            b.depth -= 1

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"
        formatter: SandboxedFormatter
        if isinstance(f_self, Markup):
            formatter = _LimitedEscapeFormatter(self, escape=f_self.escape)
        else:
            formatter = _LimitedFormatter(self)
        vformat = formatter.vformat

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return _check_text(str_type(vformat(f_self, args, kwargs)))

        return wrapper

    def get_template(self, name: Any, parent: str | None = None, globals: Any = None) -> jinja2.Template:
        b = _budget()
        if b is not None:
            b.includes += 1
            if b.includes > MAX_INCLUDES:
                raise RenderLimit(f"more than {MAX_INCLUDES:,} includes/imports in one render")
            b.tick()
        return super().get_template(name, parent, globals)


def _replace_node(tree: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    """Put `new` where `old` is in `tree` (a field or a list item of its parent)."""
    for parent in tree.find_all(nodes.Node):
        for field in parent.fields:
            value = getattr(parent, field, None)
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return


def template_location(exc: BaseException, names: Iterable[str]) -> tuple[str, int] | None:
    """The innermost template frame of `exc`'s traceback: (template file name, line)."""
    known = set(names) | {"<template>"}
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in known:
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
