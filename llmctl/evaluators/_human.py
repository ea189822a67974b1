"""The `human` evaluator: a result is scored by a person's label of the same output text.

Labels live in `evalsets/labels/*.jsonl` (see `llmctl.labels`); an output with no label is
"unscored": it neither passes nor fails the case.
"""

from __future__ import annotations

from pathlib import Path

from llmctl.errors import InputError
from llmctl.evaluators._base import Evaluator, Raw, opt
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput, ScoreResult


@evaluator("human", aliases=["human_label"])
class Human(Evaluator):
    """Scored by the human label of the same output (case, model, output SHA-256); unlabelled = unscored."""

    options = {
        "labels": opt(str, help="a labels file, relative to the project (default: every evalsets/labels/*.jsonl)"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        from llmctl.labels import LabelIndex, check_inside

        root = self.prompts_dir.parent if self.prompts_dir is not None else Path.cwd()
        self.index = LabelIndex([])
        path = self.config.get("labels")
        file = None
        if path:
            if Path(path).is_absolute():
                raise self.error(f"labels file {path!r} must be a path inside the project, not absolute", "labels")
            file = root / path
            try:
                check_inside(root, file, what="labels file")
            except InputError as exc:
                raise self.error(exc.message, "labels") from None
        if not resolve:
            return
        if file is not None:
            if not file.is_file():
                raise self.error(f"labels file {path!r} not found", "labels")
            self.index = LabelIndex.from_files([file])
        else:
            self.index = LabelIndex.from_folder(root)

    def check(self, inp: EvalInput) -> Raw | ScoreResult:
        label = self.index.get(inp.case_id, inp.model, inp.output, inp.tool_calls, inp.turns)
        if label is None:
            return ScoreResult(
                score=0.0, passed=False, reason="unscored: no human label for this output", unscored=True
            )
        score = label.score if label.score is not None else (1.0 if label.passed else 0.0)
        reason = (
            f"labelled {label.label}"
            + (f" by {label.by}" if label.by else "")
            + (f": {label.note}" if label.note else "")
        )
        return score, label.passed, reason
