"""Evaluators: the checks that score each model output (README, "Evalsets").

```python
from llmctl.evaluators import build_evaluator, case_passed

ev = build_evaluator(spec)                      # InputError (file:line) on a bad config
result = ev.score(inp) if not ev.is_async else await ev.ascore(inp, call_model)
passed, weighted = case_passed([(ev.weight, result)], error=call_error)
```

Register your own with `@evaluator("name")` on an `Evaluator` subclass.
Importing this package is cheap: scoring libraries (rapidfuzz, rouge-score,
sacrebleu, jsonschema, evaluate, jinja2) load when an evaluator needing them is built.
"""

from __future__ import annotations

# Built-ins register themselves on import (cheap: their heavy imports are deferred).
from llmctl.evaluators import _budget, _hf, _human, _json, _python, _safety, _similarity, _text, _tools  # noqa: F401
from llmctl.evaluators._base import (
    COMMON_OPTIONS,
    CallModel,
    CheckError,
    Evaluator,
    Option,
    Raw,
    case_passed,
    opt,
)
from llmctl.evaluators._json import parse_json_output
from llmctl.evaluators._judge import (
    JudgeVerdict,
    input_text,
    neutralise_tags,
    parse_verdict,
    render_judge_messages,
)
from llmctl.evaluators._pairwise import PairwiseResult, compare_pair, parse_pairwise_verdict
from llmctl.evaluators._registry import (
    EvaluatorInfo,
    build_evaluator,
    evaluator,
    lookup,
    registered_evaluators,
)

__all__ = [
    "COMMON_OPTIONS",
    "CallModel",
    "CheckError",
    "Evaluator",
    "EvaluatorInfo",
    "JudgeVerdict",
    "Option",
    "PairwiseResult",
    "Raw",
    "build_evaluator",
    "case_passed",
    "compare_pair",
    "evaluator",
    "input_text",
    "lookup",
    "neutralise_tags",
    "opt",
    "parse_json_output",
    "parse_pairwise_verdict",
    "parse_verdict",
    "registered_evaluators",
    "render_judge_messages",
]
