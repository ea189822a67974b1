"""What a run spent and saved: model calls, judge calls, cached results, tokens.

One home for the run's money, used by the run summary (`llmctl.run.summarize`), the
terminal, `runs show` and every report:

- spent: the calls made in this run, model (the outputs graded) and judge (the calls
  that model-backed evaluators made: `judge`, `pairwise`, `moderation`, ...);
- saved: results and judge calls taken from the response cache, priced at today's
  prices (their tokens x the model's current price); no money was spent on them;
- tokens: of the calls made in this run (cached results' tokens are not counted again),
  with the prompt tokens read from the provider's prompt cache and the reasoning tokens
  (a part of the completion tokens) where the provider reported them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from llmctl.types import CaseOutcome


@dataclass
class Spend:
    model_usd: float = 0.0  # fresh model calls
    judge_usd: float = 0.0  # fresh judge calls
    model_saved_usd: float = 0.0  # cached results at today's prices
    judge_saved_usd: float = 0.0  # cached judge calls at today's prices
    calls: int = 0  # results produced by a call in this run (not cached)
    cached: int = 0  # results taken from the cache
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens: read from the provider's prompt cache
    reasoning_tokens: int = 0  # of completion_tokens
    judge_calls: int = 0
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0

    @property
    def spent_usd(self) -> float:
        return self.model_usd + self.judge_usd

    @property
    def saved_usd(self) -> float:
        return self.model_saved_usd + self.judge_saved_usd

    def add(self, o: CaseOutcome) -> None:
        if o.cached:
            self.cached += 1
            self.model_saved_usd += o.cost_usd
        else:
            self.calls += 1
            self.model_usd += o.cost_usd
            self.prompt_tokens += o.prompt_tokens or 0
            self.completion_tokens += o.completion_tokens or 0
            self.cached_tokens += o.cached_tokens or 0
            self.reasoning_tokens += o.reasoning_tokens or 0
        self.judge_usd += o.judge_cost_usd
        self.judge_saved_usd += o.judge_saved_usd
        self.judge_calls += o.judge_calls
        self.judge_prompt_tokens += o.judge_prompt_tokens
        self.judge_completion_tokens += o.judge_completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "spent_usd": self.spent_usd, "saved_usd": self.saved_usd}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spend:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names and v is not None})


def spend_of(outcomes: Iterable[CaseOutcome]) -> Spend:
    """The spend of these results (errors included: a call that failed after using tokens cost them)."""
    spend = Spend()
    for o in outcomes:
        spend.add(o)
    return spend


def usd(value: float) -> str:
    return f"${value:.6f}" if 0 < abs(value) < 0.01 else f"${value:.4f}" if value else "$0"


def spend_line(s: Spend) -> str:
    """`spent: model $1.2000 + judge $0.4000 = $1.6000 · saved $0.3000 (12 cached results, at today's prices)`."""
    line = f"spent: model {usd(s.model_usd)} + judge {usd(s.judge_usd)} = {usd(s.spent_usd)}"
    if s.cached or s.judge_saved_usd:
        line += f" · saved {usd(s.saved_usd)} ({s.cached} cached result(s), at today's prices; not spent)"
    return line


def tokens_line(s: Spend) -> str:
    """`tokens: 1,200 prompt (300 cached) + 450 completion (100 reasoning) · judge: 40 call(s), 900 + 80`."""
    prompt = f"{s.prompt_tokens:,} prompt"
    if s.cached_tokens:
        prompt += f" ({s.cached_tokens:,} cached)"
    completion = f"{s.completion_tokens:,} completion"
    if s.reasoning_tokens:
        completion += f" ({s.reasoning_tokens:,} reasoning)"
    line = f"tokens: {prompt} + {completion}"
    if s.judge_calls:
        line += f" · judge: {s.judge_calls:,} call(s), {s.judge_prompt_tokens:,} prompt + "
        line += f"{s.judge_completion_tokens:,} completion"
    return line
