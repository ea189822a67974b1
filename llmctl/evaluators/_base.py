"""The evaluator base class: option checking and the common options, written once.

Every evaluator is a subclass of `Evaluator`. A subclass declares its own
options (`options = {...}`), validates and prepares them in `setup()` (build
time: compile regexes, load metrics) and implements `check()` (sync) or
`acheck()` (async, model-backed). Both return a raw `(score, passed, reason)`
triple: `passed=None` means "decide by threshold". The base class then applies
`not`, `threshold` and builds the `ScoreResult`, so negation and thresholds
behave the same for every evaluator.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from llmctl import fmt
from llmctl.errors import InputError
from llmctl.suggest import did_you_mean
from llmctl.types import CallResult, EvalInput, EvaluatorSpec, Messages, ScoreResult

CallModel = Callable[[str, Messages, dict[str, Any]], Awaitable[CallResult]]
"""`await call_model(model_name, messages, params) -> CallResult`, provided by the runner."""

Raw = tuple[float, bool | None, str]
"""What `check`/`acheck` return: raw score in 0..1, explicit pass (or None: by threshold), reason."""

_MISSING: Any = object()


@dataclass(frozen=True)
class Option:
    """One option an evaluator accepts: its type(s), whether it is required, a default and help."""

    types: tuple[type, ...]
    required: bool = False
    default: Any = None
    help: str = ""

    @property
    def type_names(self) -> str:
        names = {
            bool: "true/false",
            int: "a number",
            float: "a number",
            str: "a string",
            list: "a list",
            dict: "a mapping",
        }
        return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in self.types))


def opt(*types: type, required: bool = False, default: Any = None, help: str = "") -> Option:
    """Declare an option: `opt(str, required=True, help="...")`."""
    return Option(types=types, required=required, default=default, help=help)


COMMON_OPTIONS: dict[str, Option] = {
    "type": opt(str, help="the evaluator's registered name"),
    "not": opt(bool, default=False, help="negate: pass when the check fails; score becomes 1 - score"),
    "weight": opt(int, float, default=1.0, help="weight in the case's weighted score (>= 0)"),
    "threshold": opt(int, float, help="pass when score >= threshold (after `not`)"),
    "metric": opt(str, help="the name scores are reported under (default: the type)"),
    "severity": opt(str, help="critical: one failing case fails the gate, whatever the statistics"),
    "calibrate": opt(bool, default=False, help="calibrate against human labels like a judge (llmctl judge calibrate)"),
    "scope": opt(str, help="in an agent loop: final (the last call) | transcript (every call) | turn:N"),
}
SEVERITIES = ("normal", "critical")


def short(value: Any, limit: int = 60) -> str:
    """A repr of `value` cut to `limit` characters, for reasons."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


class CheckError(Exception):
    """Raised inside `check`/`acheck`: the result could not be judged (its message is the error)."""


class Evaluator:
    """One configured check. Build with `build_evaluator(spec)`, not directly.

    Attributes the runner uses: `name` (the reported metric name), `config`
    (the full configuration, to store with every score), `weight`, `is_async`;
    then `score(inp)` when `is_async` is false, else `await ascore(inp, call_model)`;
    `await ascore_off_loop(inp)` scores a sync one in a thread when `offload` is set.
    """

    type_name: ClassVar[str] = ""
    options: ClassVar[dict[str, Option]] = {}
    default_threshold: ClassVar[float] = 1.0
    is_async: bool = False
    # CPU-heavy: the runner scores it in a thread (llmctl.evaluators._offload), off the event loop.
    offload: ClassVar[bool] = False

    def __init__(self, spec: EvaluatorSpec, *, resolve: bool = True, prompts_dir: str | Path | None = None) -> None:
        self.spec = spec
        self.prompts_dir = Path(prompts_dir) if prompts_dir is not None else None
        self.type = spec.type
        self.name = spec.name
        self.config: dict[str, Any] = {"type": spec.type, **spec.config}
        self._check_options()
        self.negate = bool(self.config.get("not", False))
        weight = float(self.config.get("weight", 1.0))
        if weight < 0:
            raise self.error("'weight' must be >= 0", "weight")
        self.weight = weight
        severity = self.config.get("severity")
        if severity is not None and severity not in SEVERITIES:
            raise self.error(f"unknown severity {severity!r} (known: {', '.join(SEVERITIES)})", "severity")
        self.critical = severity == "critical"
        threshold = self.config.get("threshold")
        self.threshold = self.default_threshold if threshold is None else float(threshold)
        if not 0.0 <= self.threshold <= 1.0 and self.validates_threshold_range():
            raise self.error(f"'threshold' must be between 0 and 1, got {threshold}", "threshold")
        self.scope = self._parse_scope(self.config.get("scope"))
        self.setup(resolve=resolve)

    # -- building -------------------------------------------------------------------------

    def validates_threshold_range(self) -> bool:
        """Whether `threshold` must lie in 0..1 (cost/latency reuse it as a budget)."""
        return True

    def setup(self, *, resolve: bool = True) -> None:
        """Validate and prepare options. `resolve=False` skips expensive loading (lint)."""

    def _parse_scope(self, scope: Any) -> int | str | None:
        """`scope:` as "final", "transcript" or a 1-based turn number; None when not set."""
        if scope is None or scope in ("final", "transcript"):
            return None if scope is None else str(scope)
        if isinstance(scope, str) and scope.startswith("turn:") and scope[5:].isdigit() and int(scope[5:]) >= 1:
            return int(scope[5:])
        raise self.error(f"'scope' must be final, transcript or turn:N (N >= 1), got {short(scope)}", "scope")

    def scoped(self, inp: EvalInput) -> EvalInput:
        """What this evaluator sees of a result under its `scope` (unset: the final answer's text
        and every tool call of the loop). CheckError for a turn the result does not have."""
        if self.scope is None:
            return inp
        turns = inp.turns or [{"output": inp.output, "tool_calls": inp.tool_calls}]
        if self.scope == "final":
            picked = turns[-1:]
        elif self.scope == "transcript":
            picked = turns
        else:
            assert isinstance(self.scope, int)
            if self.scope > len(turns):
                raise CheckError(f"{self.type}: scope turn:{self.scope}, but the result has {len(turns)} turn(s)")
            picked = [turns[self.scope - 1]]
        texts = [str(t.get("output") or "") for t in picked]
        calls = [c for t in picked for c in t.get("tool_calls") or ()]
        return replace(inp, output="\n".join(t for t in texts if t), tool_calls=calls)

    def option(self, key: str, default: Any = _MISSING) -> Any:
        """The configured value of `key`, else `default`, else the declared default."""
        if key in self.config:
            return self.config[key]
        if default is not _MISSING:
            return default
        spec = self.options.get(key) or COMMON_OPTIONS.get(key)
        return spec.default if spec else None

    def error(self, message: str, key: str | None = None) -> InputError:
        """An InputError about this evaluator's configuration, located at the spec (or the key)."""
        line = self.spec.line
        line_of = getattr(self.spec.config, "line_of", None)
        if key is not None and callable(line_of) and key in self.spec.config:
            line = line_of(key) or line
        return InputError(f"evaluator '{self.type}': {message}", file=self.spec.file, line=line)

    def _check_options(self) -> None:
        known = {**COMMON_OPTIONS, **self.options}
        for key, value in self.config.items():
            spec = known.get(key)
            if spec is None:
                names = sorted(k for k in known if k != "type")
                error = self.error(f"unknown option {key!r} (allowed: {', '.join(names)})", key)
                error.hint = did_you_mean(key, names)
                raise error
            if value is None and not spec.required:
                continue
            if not _is_instance(value, spec.types):
                raise self.error(f"option {key!r} must be {spec.type_names}, got {short(value)}", key)
        for key, spec in self.options.items():
            if spec.required and self.config.get(key) is None:
                help_text = f" ({spec.help})" if spec.help else ""
                raise self.error(f"missing required option {key!r}{help_text}")

    def reference(self, inp: EvalInput) -> Any:
        """The value to compare against: the `value` option, else the case's `expected`."""
        value = self.config.get("value")
        if value is None:
            value = inp.expected
        if value is None:
            raise CheckError(f"{self.type}: no 'value' configured and the case has no 'expected'")
        return value

    # -- scoring --------------------------------------------------------------------------

    def check(self, inp: EvalInput) -> Raw | ScoreResult:
        """The raw, un-negated verdict of a sync evaluator."""
        raise NotImplementedError

    async def acheck(self, inp: EvalInput, call_model: CallModel) -> Raw | ScoreResult:
        """The raw, un-negated verdict of an async evaluator (or a ScoreResult with `error`)."""
        raise NotImplementedError

    def score(self, inp: EvalInput) -> ScoreResult:
        """Score one result (sync evaluators). Errors inside come back as `ScoreResult.error`."""
        if self.is_async:
            raise TypeError(f"evaluator {self.type!r} is async: use `await ascore(inp, call_model)`")
        try:
            raw = self.check(self.scoped(inp))
        except CheckError as exc:
            return errored(str(exc))
        except Exception as exc:  # a broken check must not stop a 100k-case run
            return errored(f"{type(exc).__name__}: {exc}")
        if isinstance(raw, ScoreResult):  # e.g. unscored
            return raw
        return self.finish(raw)

    async def ascore(self, inp: EvalInput, call_model: CallModel) -> ScoreResult:
        """Score one result. Works for every evaluator (sync ones ignore `call_model`)."""
        if not self.is_async:
            return self.score(inp)
        try:
            raw = await self.acheck(self.scoped(inp), call_model)
        except CheckError as exc:
            return errored(str(exc))
        except Exception as exc:
            return errored(f"{type(exc).__name__}: {exc}")
        if isinstance(raw, ScoreResult):
            return raw if raw.error else self.finish((raw.score, raw.passed, raw.reason))
        return self.finish(raw)

    async def ascore_off_loop(self, inp: EvalInput) -> ScoreResult:
        """`score(inp)` of a sync evaluator, in a scoring thread when it is `offload`ed (CPU-heavy),
        so the event loop (calls in flight, progress, the deadline, signals) is never held up."""
        if not self.offload:
            return self.score(inp)
        from llmctl.evaluators._offload import off_loop

        return await off_loop(lambda: self.score(inp))

    def finish(self, raw: Raw) -> ScoreResult:
        """Apply `not` and `threshold` to a raw verdict."""
        score, passed, reason = raw
        if score < 0.0:
            score = 0.0
        elif score > 1.0:
            score = 1.0
        if self.negate:
            score = 1.0 - score
            if passed is not None:
                passed = not passed
            else:
                passed = score >= self.threshold
            if not passed:
                reason = f"expected not: {reason}" if reason else "negated check matched"
            return ScoreResult(score=score, passed=passed, reason=reason)
        if passed is None:
            passed = score >= self.threshold
            if not passed and self.threshold < 1.0:
                reason = f"{reason} (score {fmt.score(score)} < threshold {self.threshold:g})".lstrip()
        return ScoreResult(score=score, passed=passed, reason=reason)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.config!r}>"


def errored(message: str, reason: str = "") -> ScoreResult:
    """A result that could not be judged: never a pass, whatever `not` says."""
    return ScoreResult(score=0.0, passed=False, reason=reason or message, error=message)


def _is_instance(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # `true` is not a number here
    return isinstance(value, types)


def case_passed(
    scores: Sequence[tuple[float, ScoreResult]], error: str | None = None
) -> tuple[bool | None, float | None]:
    """A case's verdict from `(weight, ScoreResult)` pairs: `(passed, weighted_score)`.

    It passes when there is no call `error` and every evaluator passed (an
    evaluator error is a fail); unscored results (an unlabelled `human`) are left out.
    When every evaluator left it unscored, the case has no verdict: `(None, None)`, neither
    passed nor failed (stored with NULL passed and score; the pass rate leaves it out).
    The weighted score is the weighted mean of the scores (errors count as 0); with no
    evaluators it is 1.0 (0.0 on a call error).
    A case whose weights are all 0 gets the plain mean.
    """
    if error is not None:
        return False, 0.0
    if scores and all(r.unscored for _, r in scores):
        return None, None
    scores = [(w, r) for w, r in scores if not r.unscored]
    if not scores:
        return True, 1.0
    passed = True
    total = 0.0
    weights = 0.0
    for weight, result in scores:
        if result.error is not None or not result.passed:
            passed = False
        value = 0.0 if result.error is not None else result.score
        total += weight * value
        weights += weight
    if weights <= 0.0:
        return passed, sum(0.0 if r.error else r.score for _, r in scores) / len(scores)
    return passed, total / weights
