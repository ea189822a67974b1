"""The evaluator registry: `@evaluator("name")` registers, `build_evaluator(spec)` builds."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from llmctl.errors import InputError
from llmctl.evaluators._base import COMMON_OPTIONS, Evaluator, Option
from llmctl.suggest import did_you_mean
from llmctl.types import EvaluatorSpec

Factory = Callable[[EvaluatorSpec], Evaluator]
T = TypeVar("T")


@dataclass(frozen=True)
class EvaluatorInfo:
    """What `registered_evaluators()` reports for one evaluator (for lint and docs)."""

    name: str
    factory: Any  # an Evaluator subclass, or a function (spec) -> Evaluator
    aliases: tuple[str, ...] = ()
    summary: str = ""
    options: dict[str, Option] = field(default_factory=dict)
    is_async: bool = False
    default_threshold: float | None = None


_REGISTRY: dict[str, EvaluatorInfo] = {}
_ALIASES: dict[str, str] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def evaluator(name: str, *, aliases: Sequence[str] = ()) -> Callable[[T], T]:
    """Register an `Evaluator` subclass, or a factory `(spec) -> Evaluator`, under `name`.

    ```python
    @evaluator("contains", aliases=["includes"])
    class Contains(Evaluator): ...
    ```
    Names are matched case-insensitively with `-` and `_` equivalent
    (`contains-any` is `contains_any`). Registering a taken name is an error.
    """

    def register(obj: T) -> T:
        is_class = isinstance(obj, type) and issubclass(obj, Evaluator)
        if not is_class and not callable(obj):
            raise TypeError(f"@evaluator({name!r}) needs an Evaluator subclass or a factory function")
        doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
        info = EvaluatorInfo(
            name=name,
            factory=obj,
            aliases=tuple(aliases),
            summary=doc[0] if doc else "",
            options=dict(obj.options) if is_class else {},  # type: ignore[attr-defined]
            is_async=bool(obj.is_async) if is_class else False,  # type: ignore[attr-defined]
            default_threshold=obj.default_threshold if is_class else None,  # type: ignore[attr-defined]
        )
        for key in (name, *aliases):
            k = _key(key)
            taken = _ALIASES.get(k)
            if taken is not None and _REGISTRY[taken].factory is not obj:
                raise ValueError(f"evaluator name {key!r} is already registered")
        if is_class:
            obj.type_name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = info
        for key in (name, *aliases):
            _ALIASES[_key(key)] = name
        return obj

    return register


def registered_evaluators() -> dict[str, EvaluatorInfo]:
    """Every registered evaluator by canonical name (aliases are in each `EvaluatorInfo`)."""
    return dict(sorted(_REGISTRY.items()))


def lookup(type_name: str) -> EvaluatorInfo | None:
    """The evaluator registered as `type_name` or one of its aliases, if any."""
    canonical = _ALIASES.get(_key(type_name))
    return _REGISTRY[canonical] if canonical else None


def build_evaluator(
    spec: EvaluatorSpec,
    *,
    judge_model: str | None = None,
    schema: dict[str, Any] | None = None,
    prompts_dir: str | Path | None = None,
    resolve: bool = True,
) -> Evaluator:
    """Validate `spec` and build its evaluator; any configuration problem is an InputError.

    - `judge_model`: llmctl.yaml's `judge.model`, used by `judge`/`pairwise` without `model:`
      (not by an evaluator whose class sets `judge_model_default = False`: `moderation`).
    - `schema`: the prompt's `output.json_schema`, used by `json_schema` without `schema:`.
    - `prompts_dir`: where `prompts/judges/rubric.yaml` and a judge's `prompt:` are looked up.
    - `resolve=False` checks the options only, skipping slow loading (importing a
      `python` function, `evaluate.load`, reading a judge prompt file): for `llmctl lint`.

    Filled-in defaults are recorded in the evaluator's `config`.
    """
    if not isinstance(spec.type, str) or not spec.type:
        raise InputError("evaluator needs a 'type'", file=spec.file, line=spec.line)
    info = lookup(spec.type)
    if info is None:
        known = ", ".join(sorted(_REGISTRY))
        hint = did_you_mean(_key(spec.type), [*_REGISTRY, *_ALIASES])
        raise InputError(f"unknown evaluator {spec.type!r} (known: {known})", file=spec.file, line=spec.line, hint=hint)
    if not isinstance(spec.config, dict):
        raise InputError(f"evaluator {spec.type!r} must be a mapping", file=spec.file, line=spec.line)
    config = copy.copy(spec.config)  # keeps a LineDict's line numbers
    config.pop("type", None)
    options = info.options
    takes_judge = getattr(info.factory, "judge_model_default", True)
    if judge_model and takes_judge and "model" in options and config.get("model") is None:
        config["model"] = judge_model
    if schema is not None and "schema" in options and config.get("schema") is None:
        config["schema"] = schema
    resolved = EvaluatorSpec(type=info.name, config=config, file=spec.file, line=spec.line)
    factory = info.factory
    if isinstance(factory, type) and issubclass(factory, Evaluator):
        return factory(resolved, resolve=resolve, prompts_dir=prompts_dir)
    built = factory(resolved)
    if not isinstance(built, Evaluator):
        raise TypeError(f"evaluator factory {info.name!r} returned {type(built).__name__}, not an Evaluator")
    return built


__all__ = [
    "COMMON_OPTIONS",
    "EvaluatorInfo",
    "build_evaluator",
    "evaluator",
    "lookup",
    "registered_evaluators",
]
