"""The `python` evaluator: a user function `module:function` (or `path/to/file.py:function`).

The function is imported when the evaluator is built (not at package import),
from the project root (the folder above `prompts/`, else the working directory).
It is called as `fn(output, inp)` (`inp` is the `EvalInput`: vars, expected,
model, cost_usd, ...), or `fn(output)` if it takes one argument, plus any
`args:` as keyword arguments. It may be `async`. It returns:

- a bool: pass/fail (score 1/0);
- a number in 0..1: the score, passed by `threshold` (default 0.5);
- a mapping `{score, pass, reason}` (either of score/pass may be left out);
- a `ScoreResult`.

An exception becomes a `ScoreResult` with `error` set (never a pass).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.evaluators._base import CallModel, CheckError, Evaluator, Raw, opt, short
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput, ScoreResult


def _project_root(prompts_dir: Path | None) -> Path:
    return prompts_dir.resolve().parent if prompts_dir is not None else Path.cwd()


def _load_module(module: str, root: Path) -> Any:
    if module.endswith(".py") or "/" in module or "\\" in module:
        path = Path(module)
        if not path.is_absolute():
            path = root / path
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        name = f"llmctl_user_{path.stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            del sys.modules[name]
            raise
        return mod
    root_str = str(root)
    if root_str not in sys.path:
        sys.path.insert(0, root_str)
    return importlib.import_module(module)


def _positional_arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    count = 0
    for p in params:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return 2
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


@evaluator("python", aliases=["py", "function"])
class PythonFunction(Evaluator):
    """A user function `module:function` decides: returns bool, a 0..1 score, or {score, pass, reason}."""

    options = {
        "function": opt(str, required=True, help="'module:function' or 'path/to/file.py:function'"),
        "args": opt(dict, help="extra keyword arguments for the function"),
    }
    default_threshold = 0.5

    def setup(self, *, resolve: bool = True) -> None:
        target = str(self.config["function"])
        module, sep, attr = target.rpartition(":")
        if not sep or not module or not attr.isidentifier():
            raise self.error(f"'function' must look like 'module:function', got {target!r}", "function")
        self.kwargs = dict(self.config.get("args") or {})
        self._fn: Callable[..., Any] | None = None
        self._pass_inp = True
        if not resolve:
            return
        try:
            mod = _load_module(module, _project_root(self.prompts_dir))
        except Exception as exc:
            raise self.error(f"cannot import {module!r}: {type(exc).__name__}: {exc}", "function") from None
        fn = getattr(mod, attr, None)
        if not callable(fn):
            raise self.error(f"{module!r} has no function {attr!r}", "function")
        self._fn = fn
        self._pass_inp = _positional_arity(fn) >= 2
        self.is_async = inspect.iscoroutinefunction(fn)

    def _call(self, inp: EvalInput) -> Any:
        if self._fn is None:
            raise CheckError(f"python: {self.config['function']!r} was not loaded (built with resolve=False)")
        if self._pass_inp:
            return self._fn(inp.output, inp, **self.kwargs)
        return self._fn(inp.output, **self.kwargs)

    def _raised(self, exc: Exception) -> CheckError:
        return CheckError(f"{self.config['function']} raised {type(exc).__name__}: {exc}")

    def check(self, inp: EvalInput) -> Raw:
        try:
            result = self._call(inp)
        except CheckError:
            raise
        except Exception as exc:  # the user's function failed: an error, never a pass
            raise self._raised(exc) from exc
        return self._interpret(result)

    async def acheck(self, inp: EvalInput, call_model: CallModel) -> Raw | ScoreResult:
        try:
            result = self._call(inp)
            if inspect.isawaitable(result):
                result = await result
        except CheckError:
            raise
        except Exception as exc:
            raise self._raised(exc) from exc
        return self._interpret(result)

    def _interpret(self, value: Any) -> Raw:
        name = self.config["function"]
        if isinstance(value, ScoreResult):
            if value.error:
                raise CheckError(value.error)
            return value.score, value.passed, value.reason
        if isinstance(value, bool):
            return (1.0, True, f"{name} passed") if value else (0.0, False, f"{name} returned False")
        if isinstance(value, (int, float)):
            return self._checked_score(float(value)), None, f"{name} scored {fmt.score(float(value))}"
        if isinstance(value, dict):
            unknown = set(value) - {"score", "pass", "passed", "reason"}
            if unknown:
                raise CheckError(f"{name} returned unknown keys {sorted(unknown)} (use score, pass, reason)")
            passed = value.get("pass", value.get("passed"))
            if passed is not None and not isinstance(passed, bool):
                raise CheckError(f"{name} returned a non-boolean 'pass': {short(passed)}")
            score = value.get("score")
            if score is None:
                if passed is None:
                    raise CheckError(f"{name} returned neither 'score' nor 'pass'")
                score = 1.0 if passed else 0.0
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise CheckError(f"{name} returned a non-numeric 'score': {short(score)}")
            reason = str(value.get("reason") or "")
            return self._checked_score(float(score)), passed, reason or f"{name} scored {fmt.score(float(score))}"
        raise CheckError(f"{name} returned {type(value).__name__}; expected bool, a 0..1 number or a mapping")

    def _checked_score(self, score: float) -> float:
        if not 0.0 <= score <= 1.0:
            raise CheckError(f"{self.config['function']} returned score {score:g}, outside 0..1")
        return score
