"""Text checks: equals, contains, icontains, contains_any, contains_all, regex, starts_with.

All compare the output with `value` from the config, else the case's `expected`.
They are boolean checks (threshold 1.0), except that `contains_all` scores the
fraction of values found (pass needs all of them, or `threshold` of them).
"""

from __future__ import annotations

import json
from typing import Any

from llmctl.evaluators._base import CheckError, Evaluator, Raw, opt, short
from llmctl.evaluators._json import parse_json_output
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput

_SCALARS = (str, int, float, bool)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


@evaluator("equals", aliases=["equal", "exact_match"])
class Equals(Evaluator):
    """Output equals `value` (or the case's `expected`); a mapping/list value compares as JSON."""

    options = {
        "value": opt(str, int, float, bool, dict, list, help="the expected text (default: the case's expected)"),
        "ignore_case": opt(bool, default=False, help="compare case-insensitively"),
        "strip": opt(bool, default=True, help="ignore leading/trailing whitespace"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        self.ignore_case = bool(self.option("ignore_case"))
        self.strip = bool(self.option("strip"))
        value = self.config.get("value")
        self._fixed = None if value is None or isinstance(value, (dict, list)) else self._norm(_as_text(value))

    def _norm(self, text: str) -> str:
        if self.strip:
            text = text.strip()
        if self.ignore_case:
            text = text.casefold()
        return text

    def check(self, inp: EvalInput) -> Raw:
        if self._fixed is not None:
            want = self._fixed
        else:
            value = self.reference(inp)
            if isinstance(value, (dict, list)):
                try:
                    got = parse_json_output(inp.output)
                except ValueError:
                    return 0.0, None, f"expected JSON equal to {short(value)}, output is not JSON"
                if got == value:
                    return 1.0, None, f"equals {short(value)}"
                return 0.0, None, f"expected JSON equal to {short(value)}, got {short(got)}"
            want = self._norm(_as_text(value))
        got_text = self._norm(inp.output)
        if got_text == want:
            return 1.0, None, f"equals {short(want)}"
        return 0.0, None, f"expected {short(want)}, got {short(got_text)}"


@evaluator("contains", aliases=["includes"])
class Contains(Evaluator):
    """Output contains `value` (or the case's `expected`) as a substring."""

    options = {
        "value": opt(str, int, float, help="the text to find (default: the case's expected)"),
        "ignore_case": opt(bool, default=False, help="match case-insensitively"),
    }
    ignore_case_default = False

    def setup(self, *, resolve: bool = True) -> None:
        self.ignore_case = bool(self.option("ignore_case", self.ignore_case_default))
        value = self.config.get("value")
        self._fixed = None if value is None else _as_text(value)
        if self._fixed is not None and self.ignore_case:
            self._fixed = self._fixed.casefold()

    def check(self, inp: EvalInput) -> Raw:
        want = self._fixed
        if want is None:
            want = _as_text(self.reference(inp))
            if self.ignore_case:
                want = want.casefold()
        out = inp.output.casefold() if self.ignore_case else inp.output
        if want in out:
            return 1.0, None, f"contains {short(want)}"
        return 0.0, None, f"expected to contain {short(want)}"


@evaluator("icontains")
class IContains(Contains):
    """Output contains `value` (or the case's `expected`), ignoring case."""

    ignore_case_default = True


class _ContainsMany(Evaluator):
    options = {
        "value": opt(list, help="the texts to find (default: the case's expected)"),
        "ignore_case": opt(bool, default=False, help="match case-insensitively"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        self.ignore_case = bool(self.option("ignore_case"))
        value = self.config.get("value")
        if value is not None:
            if not value or not all(isinstance(v, _SCALARS) for v in value):
                raise self.error("'value' must be a non-empty list of strings", "value")
        self._fixed = None if value is None else self._prepare(value)

    def _prepare(self, values: Any) -> list[str]:
        if isinstance(values, _SCALARS):
            values = [values]
        if not isinstance(values, (list, tuple)):
            raise CheckError(f"{self.type}: expected a list of strings, got {short(values)}")
        texts = [_as_text(v) for v in values]
        return [t.casefold() for t in texts] if self.ignore_case else texts

    def _found(self, inp: EvalInput) -> tuple[list[str], list[str]]:
        wants = self._fixed if self._fixed is not None else self._prepare(self.reference(inp))
        out = inp.output.casefold() if self.ignore_case else inp.output
        found = [w for w in wants if w in out]
        return wants, found


@evaluator("contains_any")
class ContainsAny(_ContainsMany):
    """Output contains at least one of the strings in `value`."""

    def check(self, inp: EvalInput) -> Raw:
        wants, found = self._found(inp)
        if found:
            return 1.0, None, f"contains {short(found[0])}"
        return 0.0, None, f"expected to contain any of {short(wants)}"


@evaluator("contains_all")
class ContainsAll(_ContainsMany):
    """Output contains every string in `value`; the score is the fraction found."""

    def check(self, inp: EvalInput) -> Raw:
        wants, found = self._found(inp)
        fraction = len(found) / len(wants) if wants else 1.0
        passed = fraction >= self.threshold
        if len(found) == len(wants):
            return fraction, passed, f"contains all of {short(wants)}"
        missing = [w for w in wants if w not in found]
        return fraction, passed, f"expected to contain {short(missing)}"


# The `regex` package (not `re`): its `timeout=` stops a catastrophically backtracking
# pattern (`^(\w+\s?)*$` on a long output) instead of blocking the event loop for hours.
# VERSION0 keeps Python `re` syntax and semantics. Imported where a regex is built.
_FLAG_NAMES = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL", "x": "VERBOSE", "a": "ASCII"}
REGEX_TIMEOUT_S = 1.0


class UserRegex:
    """A pattern from an evalset (`patterns:` of pii, secrets and refusal, pii's `allow:`), compiled
    like the `regex` evaluator's: the `regex` package, Python `re` syntax (VERSION0); every search
    stops after `timeout` seconds with a CheckError naming `owner` (catastrophic backtracking such
    as `(a+)+$` fails the case, never hangs the run) and runs without holding the GIL, so the
    event loop and other evaluators go on meanwhile.

        rx = UserRegex(r"ACME-\\d{6}", owner="pii pattern 'acme'")   # regex.error when invalid
        for m in rx.finditer(text): ...
    """

    def __init__(self, pattern: str, *, owner: str, flags: int = 0, timeout: float = REGEX_TIMEOUT_S) -> None:
        import regex

        self.owner = owner
        self.timeout = timeout
        self.compiled: Any = regex.compile(pattern, flags | regex.VERSION0)
        self.pattern = pattern

    def _timed_out(self, text: str) -> CheckError:
        return CheckError(
            f"{self.owner}: /{short(self.pattern)[1:-1]}/ took more than {self.timeout:g} s on a "
            f"{len(text)}-character output (catastrophic backtracking?); simplify the pattern"
        )

    def search(self, text: str) -> Any:
        try:
            return self.compiled.search(text, timeout=self.timeout, concurrent=True)
        except TimeoutError:
            raise self._timed_out(text) from None

    def fullmatch(self, text: str) -> Any:
        try:
            return self.compiled.fullmatch(text, timeout=self.timeout, concurrent=True)
        except TimeoutError:
            raise self._timed_out(text) from None

    def finditer(self, text: str) -> list[Any]:
        """Every match (a list: the timeout covers the whole scan, not one step of it)."""
        try:
            return list(self.compiled.finditer(text, timeout=self.timeout, concurrent=True))
        except TimeoutError:
            raise self._timed_out(text) from None


@evaluator("regex", aliases=["regexp", "matches"])
class Regex(Evaluator):
    """The regular expression `value` (or the case's `expected`) matches somewhere in the output."""

    offload = True  # CPU-heavy on a long output: scored off the event loop

    options = {
        "value": opt(str, help="the pattern, Python `re` syntax, searched anywhere in the output"),
        "flags": opt(str, list, help="letters 'imsxa' or names like [IGNORECASE, MULTILINE]"),
        "timeout": opt(
            int,
            float,
            default=REGEX_TIMEOUT_S,
            help="seconds one match may take; longer (catastrophic backtracking) fails the case with an error",
        ),
    }

    def setup(self, *, resolve: bool = True) -> None:
        import regex

        self.flags = self._parse_flags(self.config.get("flags"))
        self.timeout = float(self.option("timeout"))
        if not 0 < self.timeout <= 3600:
            raise self.error("'timeout' must be more than 0 and at most 3600 seconds", "timeout")
        pattern = self.config.get("value")
        self._pattern: Any = None
        if pattern is not None:
            try:
                self._pattern = regex.compile(pattern, self.flags | regex.VERSION0)
            except regex.error as exc:
                raise self.error(f"invalid regex {short(pattern)}: {exc}", "value") from None

    def _parse_flags(self, flags: Any) -> int:
        import regex

        if flags is None:
            return 0
        result = 0
        if isinstance(flags, str):
            for letter in flags.lower():
                if letter not in _FLAG_NAMES:
                    raise self.error(f"unknown regex flag {letter!r} (use letters from 'imsxa')", "flags")
                result |= getattr(regex, _FLAG_NAMES[letter])
            return result
        for name in flags:
            if str(name).upper() not in _FLAG_NAMES.values():
                raise self.error(f"unknown regex flag {name!r}", "flags")
            result |= getattr(regex, str(name).upper())
        return result

    def check(self, inp: EvalInput) -> Raw:
        import regex

        pattern = self._pattern
        if pattern is None:
            try:
                pattern = regex.compile(_as_text(self.reference(inp)), self.flags | regex.VERSION0)
            except regex.error as exc:
                raise CheckError(f"regex: invalid pattern in the case's expected: {exc}") from None
        try:
            found = pattern.search(inp.output, timeout=self.timeout, concurrent=True)
        except TimeoutError:
            raise CheckError(
                f"regex: /{short(pattern.pattern)[1:-1]}/ took more than {self.timeout:g} s on a "
                f"{len(inp.output)}-character output (catastrophic backtracking?); raise `timeout:` or simplify it"
            ) from None
        if found:
            return 1.0, None, f"matches /{pattern.pattern}/"
        return 0.0, None, f"expected to match /{short(pattern.pattern)[1:-1]}/"


@evaluator("starts_with", aliases=["startswith"])
class StartsWith(Evaluator):
    """Output starts with `value` (or the case's `expected`), ignoring leading whitespace by default."""

    options = {
        "value": opt(str, int, float, help="the expected prefix (default: the case's expected)"),
        "ignore_case": opt(bool, default=False, help="compare case-insensitively"),
        "strip": opt(bool, default=True, help="ignore leading whitespace of the output"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        self.ignore_case = bool(self.option("ignore_case"))
        self.strip = bool(self.option("strip"))
        value = self.config.get("value")
        self._fixed = None if value is None else self._norm(_as_text(value))

    def _norm(self, text: str) -> str:
        return text.casefold() if self.ignore_case else text

    def check(self, inp: EvalInput) -> Raw:
        want = self._fixed if self._fixed is not None else self._norm(_as_text(self.reference(inp)))
        out = inp.output.lstrip() if self.strip else inp.output
        if self._norm(out[: len(want) * 2 + 8]).startswith(want):
            return 1.0, None, f"starts with {short(want)}"
        return 0.0, None, f"expected to start with {short(want)}, got {short(out[: len(want) + 10])}"
