"""What a run spent and saved: model calls, judge calls, cached results, tokens.

One home for the run's money, used by the run summary (`llmctl.summary`), the
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

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from llmctl import fmt
from llmctl.types import TOKEN_FIELDS, CaseOutcome, Usage

_ZERO = Usage(0, 0, cached_tokens=0, reasoning_tokens=0, cache_write_tokens=0)


@dataclass
class Spend:
    model_usd: float = 0.0  # fresh model calls
    judge_usd: float = 0.0  # fresh judge calls
    model_saved_usd: float = 0.0  # cached results at today's prices
    judge_saved_usd: float = 0.0  # cached judge calls at today's prices
    calls: int = 0  # results produced by a call in this run (not cached)
    cached: int = 0  # results taken from the cache
    # the tokens of those calls, the sum of their `Usage` with unknown counts as 0 (`Usage.counted`):
    # cached_tokens and cache_write_tokens are of prompt_tokens (read from / written to the
    # provider's prompt cache), reasoning_tokens of completion_tokens
    usage: Usage = _ZERO
    judge_calls: int = 0
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0

    @property
    def spent_usd(self) -> float:
        return self.model_usd + self.judge_usd

    @property
    def saved_usd(self) -> float:
        return self.model_saved_usd + self.judge_saved_usd

    # The five counts by name (read-only; `usage` holds them, never None here).
    @property
    def prompt_tokens(self) -> int:
        return self.usage.prompt_tokens or 0

    @property
    def completion_tokens(self) -> int:
        return self.usage.completion_tokens or 0

    @property
    def cached_tokens(self) -> int:
        return self.usage.cached_tokens or 0

    @property
    def reasoning_tokens(self) -> int:
        return self.usage.reasoning_tokens or 0

    @property
    def cache_write_tokens(self) -> int:
        return self.usage.cache_write_tokens or 0

    def add(self, o: CaseOutcome) -> None:
        if o.cached:
            self.cached += 1
            self.model_saved_usd += o.cost_usd
        else:
            self.calls += 1
            self.model_usd += o.cost_usd
            self.usage += o.usage.counted()
        self.judge_usd += o.judge_cost_usd
        self.judge_saved_usd += o.judge_saved_usd
        self.judge_calls += o.judge_calls
        self.judge_prompt_tokens += o.judge_prompt_tokens
        self.judge_completion_tokens += o.judge_completion_tokens

    def plus(self, other: Spend) -> Spend:
        """The spend of two runs together."""
        return Spend(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, Any]:
        """The summary's `spend` object: the fields, the five token counts flat in place of `usage`."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "usage":
                out.update({name: getattr(self, name) for name in TOKEN_FIELDS})
            else:
                out[f.name] = getattr(self, f.name)
        return {**out, "spent_usd": self.spent_usd, "saved_usd": self.saved_usd}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spend:
        names = {f.name for f in fields(cls)} - {"usage"}
        counts = {k: int(data[k]) for k in TOKEN_FIELDS if isinstance(data.get(k), int | float)}
        return cls(
            usage=dataclasses.replace(_ZERO, **counts),
            **{k: v for k, v in data.items() if k in names and v is not None},
        )


def spend_of(outcomes: Iterable[CaseOutcome]) -> Spend:
    """The spend of these results (errors included: a call that failed after using tokens cost them)."""
    spend = Spend()
    for o in outcomes:
        spend.add(o)
    return spend


def spend_line(s: Spend) -> str:
    """`spent: model $1.20 + judge $0.40 = $1.60 · saved $0.30 (12 cached result(s), at today's prices; not spent)`."""
    usd = fmt.usd
    line = f"spent: model {usd(s.model_usd)} + judge {usd(s.judge_usd)} = {usd(s.spent_usd)}"
    if s.cached or s.judge_saved_usd:
        line += f" · saved {usd(s.saved_usd)} ({fmt.count(s.cached)} cached result(s), at today's prices; not spent)"
    return line


def tokens_line(s: Spend) -> str:
    """`tokens: 1,200 prompt (300 cached) + 450 completion (100 reasoning) · judge: 40 call(s), 900 + 80`."""
    n = fmt.count
    prompt = f"{n(s.prompt_tokens)} prompt"
    shares = [f"{n(s.cached_tokens)} cached"] if s.cached_tokens else []
    shares += [f"{n(s.cache_write_tokens)} written to the prompt cache"] if s.cache_write_tokens else []
    if shares:
        prompt += f" ({', '.join(shares)})"
    completion = f"{n(s.completion_tokens)} completion"
    if s.reasoning_tokens:
        completion += f" ({n(s.reasoning_tokens)} reasoning)"
    line = f"tokens: {prompt} + {completion}"
    if s.judge_calls:
        line += f" · judge: {n(s.judge_calls)} call(s), {n(s.judge_prompt_tokens)} prompt + "
        line += f"{n(s.judge_completion_tokens)} completion"
    return line
