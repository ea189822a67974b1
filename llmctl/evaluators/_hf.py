"""The `evaluate` evaluator: any Hugging Face `evaluate` metric, by hub name or local path.

`evaluate` (and with it `datasets`) takes seconds to import, so it is imported
when the first such evaluator is built, and each loaded metric is cached for
the process. Hub names need network access the first time; a local metric
script (a folder holding `<folder>.py`, or the `.py` file) works offline.
"""

from __future__ import annotations

import numbers
import threading
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.evaluators._base import CheckError, Evaluator, Raw, opt, short
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput

_CACHE: dict[tuple[str, str | None], Any] = {}
_LOCK = threading.Lock()


def load_metric(path: str, config_name: str | None = None) -> Any:
    """`evaluate.load(path, config_name)`, cached per process; raises what evaluate raises."""
    key = (path, config_name)
    with _LOCK:
        metric = _CACHE.get(key)
        if metric is None:
            import evaluate  # deferred: imports datasets, pyarrow, ... (seconds)

            metric = evaluate.load(path, config_name=config_name, keep_in_memory=True)
            _CACHE[key] = metric
    return metric


@evaluator("evaluate", aliases=["hf_evaluate", "hf_metric"])
class HfEvaluate(Evaluator):
    """A Hugging Face `evaluate` metric: compute(predictions=[output], references=[expected])."""

    options = {
        "path": opt(str, required=True, help="metric name on the hub (e.g. 'exact_match') or a local path"),
        "key": opt(str, help="which value of the metric's result is the score (default: the only one)"),
        "config_name": opt(str, help="the metric's configuration (e.g. a GLUE subset)"),
        "args": opt(dict, help="extra keyword arguments for compute()"),
        "scale": opt(int, float, default=1.0, help="divide the value by this (e.g. 100) to land in 0..1"),
        "value": opt(str, int, float, bool, list, dict, help="the reference (default: the case's expected)"),
    }
    default_threshold = 0.5

    def setup(self, *, resolve: bool = True) -> None:
        scale = float(self.option("scale"))
        if scale <= 0:
            raise self.error("'scale' must be > 0", "scale")
        self.scale = scale
        self.key = self.config.get("key")
        self.kwargs = dict(self.config.get("args") or {})
        for reserved in ("predictions", "references"):
            if reserved in self.kwargs:
                raise self.error(f"'args' may not set {reserved!r}", "args")
        raw_path = str(self.config["path"])
        self.metric_path = self._locate(raw_path)
        self._metric: Any = None
        if resolve:
            try:
                self._metric = load_metric(self.metric_path, self.config.get("config_name"))
            except Exception as exc:
                hint = (
                    ""
                    if Path(self.metric_path).exists()
                    else (" (hub names need network access; offline, use a local metric script path)")
                )
                raise self.error(
                    f"cannot load metric {raw_path!r}: {type(exc).__name__}: {exc}{hint}", "path"
                ) from None

    def _locate(self, path: str) -> str:
        """A path relative to the project root if it exists there, else the name as given."""
        candidate = Path(path)
        if not candidate.is_absolute() and self.prompts_dir is not None:
            rooted = self.prompts_dir.resolve().parent / candidate
            if rooted.exists():
                return str(rooted)
        return path

    def check(self, inp: EvalInput) -> Raw:
        if self._metric is None:
            raise CheckError(f"evaluate: metric {self.metric_path!r} was not loaded (built with resolve=False)")
        reference = self.reference(inp)
        result = self._metric.compute(predictions=[inp.output], references=[reference], **self.kwargs)
        value = self._pick(result)
        score = value / self.scale
        if not 0.0 <= score <= 1.0:
            raise CheckError(f"evaluate: {self.metric_path} gave {value:g}, outside 0..1 (set 'scale', e.g. 100)")
        return score, None, f"{self.key or self.metric_path} {fmt.score(score)}"

    def _pick(self, result: Any) -> float:
        if isinstance(result, numbers.Real) and not isinstance(result, bool):
            return float(result)
        if not isinstance(result, dict) or not result:
            raise CheckError(f"evaluate: metric returned {short(result)}, not a mapping of scores")
        if self.key is not None:
            if self.key not in result:
                raise CheckError(f"evaluate: no key {self.key!r} in the result (keys: {', '.join(result)})")
            value = result[self.key]
        elif len(result) == 1:
            value = next(iter(result.values()))
        else:
            name = Path(self.metric_path.rstrip("/")).stem
            if name not in result:
                raise CheckError(f"evaluate: result has several values ({', '.join(result)}); choose one with 'key'")
            value = result[name]
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy numbers included
            raise CheckError(f"evaluate: value {short(value)} is not a number")
        return float(value)
