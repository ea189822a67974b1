"""Pairwise comparison by a judge model, run in both orders to cancel position bias.

`compare_pair` asks the judge twice, with the outputs as (A, B) and then as
(B, A), and combines the two verdicts: both must name the same output for it to
win; any disagreement is a tie. A judge that always prefers the first position
therefore yields a tie. `score_a` is output A's share of the two verdicts
(win 1, tie 0.5, loss 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from llmctl.evaluators._base import CallModel, CheckError, Raw, errored, opt, short
from llmctl.evaluators._json import strip_json_fence
from llmctl.evaluators._judge import (
    DEFAULT_PAIRWISE_PROMPT,
    PROJECT_PAIRWISE_PROMPT,
    JudgeTemplate,
    _ModelJudge,
    compile_template,
    input_text,
    neutralise_tags,
    packaged_prompt,
)
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput, Messages, ScoreResult

Winner = Literal["a", "b", "tie"]

DEFAULT_PAIRWISE_RUBRIC = "Which response better fulfils the request in the input: correct, complete, and clear?"


@dataclass(frozen=True)
class PairwiseResult:
    """The combined verdict of a position-swapped comparison of outputs A and B."""

    winner: Winner
    score_a: float
    reason: str
    error: str | None = None
    verdicts: tuple[Winner, ...] = ()  # per order, mapped back to a/b: (A-first, B-first)


def parse_pairwise_verdict(text: str | None) -> tuple[Literal["A", "B", "tie"], str]:
    """Parse a strict `{"winner": "A"|"B"|"tie", "reason": str}` verdict (a ```json fence is allowed)."""

    def bad(why: str) -> CheckError:
        return CheckError(f"unparseable judge verdict: {why}: {short(text or '', 120)}")

    if not text:
        raise bad("empty reply")
    try:
        data = json.loads(strip_json_fence(text))
    except ValueError:
        raise bad("not JSON") from None
    if not isinstance(data, dict) or set(data) != {"winner", "reason"}:
        raise bad("expected a JSON object with exactly the keys winner, reason")
    winner, reason = data["winner"], data["reason"]
    if not isinstance(reason, str):
        raise bad("'reason' must be a string")
    if winner == "A" or winner == "B":
        return winner, reason.strip()
    if isinstance(winner, str) and winner.lower() == "tie":
        return "tie", reason.strip()
    raise bad('\'winner\' must be "A", "B" or "tie"')


def _pair_messages(template: JudgeTemplate, rubric: str, inp: EvalInput, first: str, second: str) -> Messages:
    return template.render(
        {
            "rubric": rubric,
            "input": neutralise_tags(input_text(inp)),
            "response_a": neutralise_tags(first),
            "response_b": neutralise_tags(second),
        }
    )


async def compare_pair(
    rubric: str,
    output_a: str,
    output_b: str,
    inp: EvalInput,
    call_model: CallModel,
    model: str,
    *,
    params: dict[str, Any] | None = None,
    template_text: str | None = None,
) -> PairwiseResult:
    """Compare `output_a` with `output_b` for the case `inp`, in both orders.

    `template_text` is a pairwise prompt file's text (default: the packaged
    `pairwise_prompt.yaml`); `params` default to {temperature: 0}. A failed call
    or an unparseable verdict gives `winner='tie'` with `error` set.
    """
    template = compile_template(
        template_text if template_text is not None else packaged_prompt(DEFAULT_PAIRWISE_PROMPT)
    )
    call_params = {"temperature": 0, **template.params, **(params or {})}
    forward = _pair_messages(template, rubric, inp, output_a, output_b)
    backward = _pair_messages(template, rubric, inp, output_b, output_a)

    async def ask(messages: Messages) -> tuple[Literal["A", "B", "tie"], str]:
        result = await call_model(model, messages, dict(call_params))
        if result.error is not None or result.output is None:
            raise CheckError(f"judge call to {model} failed: {result.error or 'no output'}")
        return parse_pairwise_verdict(result.output)

    import asyncio

    outcomes = await asyncio.gather(ask(forward), ask(backward), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome
            message = str(outcome) if isinstance(outcome, CheckError) else f"{type(outcome).__name__}: {outcome}"
            return PairwiseResult(winner="tie", score_a=0.5, reason=message, error=message)
    (first, reason1), (second, reason2) = outcomes  # type: ignore[misc]
    forward_map: dict[str, Winner] = {"A": "a", "B": "b", "tie": "tie"}
    backward_map: dict[str, Winner] = {"A": "b", "B": "a", "tie": "tie"}
    mapped: tuple[Winner, Winner] = (forward_map[first], backward_map[second])
    points = {"a": 1.0, "tie": 0.5, "b": 0.0}
    score_a = (points[mapped[0]] + points[mapped[1]]) / 2
    if mapped[0] == mapped[1]:
        winner: Winner = mapped[0]
        reason = reason1 or reason2
    else:
        winner = "tie"
        reason = f"verdicts disagree when the order is swapped ({mapped[0]} then {mapped[1]}): {reason1}"
    return PairwiseResult(winner=winner, score_a=score_a, reason=reason, verdicts=mapped)


@evaluator("pairwise", aliases=["compare", "select_best"])
class Pairwise(_ModelJudge):
    """A judge compares the output with the case's `expected` (the reference output), both orders.

    Passes when the output wins or ties; score is the output's share (win 1,
    tie 0.5). With an explicit `threshold`, passes when that share >= threshold.
    """

    options = {
        "rubric": opt(str, default=DEFAULT_PAIRWISE_RUBRIC, help="what makes one response better"),
        "model": opt(str, help="the judge model (default: judge.model in llmctl.yaml)"),
        "params": opt(dict, help="call parameters (default: {temperature: 0})"),
        "prompt": opt(str, help="the prompt file (default: prompts/judges/pairwise.yaml, else built in)"),
        "value": opt(str, help="the reference output (default: the case's expected)"),
    }
    default_threshold = 0.5
    prompt_default_name = PROJECT_PAIRWISE_PROMPT
    packaged_prompt_name = DEFAULT_PAIRWISE_PROMPT

    def setup(self, *, resolve: bool = True) -> None:
        super().setup(resolve=resolve)
        self.rubric = str(self.option("rubric"))
        self._by_threshold = "threshold" in self.config

    async def acheck(self, inp: EvalInput, call_model: CallModel) -> Raw | ScoreResult:
        reference = self.reference(inp)
        if not isinstance(reference, str):
            reference = json.dumps(reference, ensure_ascii=False, default=str)
        result = await compare_pair(
            self.rubric,
            inp.output,
            reference,
            inp,
            call_model,
            self.model,
            params=self.params,
            template_text=self.template_text,
        )
        if result.error is not None:
            return errored(result.error)
        if self._by_threshold:
            passed = None
        else:
            passed = result.winner != "b"
        label = {"a": "output wins", "b": "reference wins", "tie": "tie"}[result.winner]
        return result.score_a, passed, f"{label}: {result.reason}"


__all__ = ["PairwiseResult", "compare_pair", "parse_pairwise_verdict"]
