"""Budget checks on the call itself: cost and latency.

As in promptfoo, `threshold` may stand for the budget (`{type: cost, threshold: 0.002}`)
when `max_usd` / `max_ms` is not given.
"""

from __future__ import annotations

from typing import ClassVar

from llmctl import fmt
from llmctl.evaluators._base import Evaluator, Raw, opt
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput


class _Budget(Evaluator):
    budget_key: ClassVar[str] = ""

    def validates_threshold_range(self) -> bool:
        return self.budget_key in self.config

    def setup(self, *, resolve: bool = True) -> None:
        budget = self.config.get(self.budget_key)
        if budget is None:
            budget = self.config.get("threshold")
            if budget is None:
                raise self.error(f"missing required option {self.budget_key!r}")
            self.threshold = 1.0  # `threshold` was the budget; the check itself is boolean
        if budget < 0:
            raise self.error(f"{self.budget_key!r} must be >= 0", self.budget_key)
        self.budget = float(budget)


@evaluator("cost", aliases=["max_cost"])
class Cost(_Budget):
    """The call cost at most `max_usd` dollars."""

    options = {"max_usd": opt(int, float, help="the most a call may cost, in USD")}
    budget_key = "max_usd"

    def check(self, inp: EvalInput) -> Raw:
        if inp.cost_usd <= self.budget:
            return 1.0, None, f"cost {fmt.usd(inp.cost_usd)} <= {fmt.usd(self.budget)}"
        return 0.0, None, f"cost {fmt.usd(inp.cost_usd)} exceeds max {fmt.usd(self.budget)}"


@evaluator("latency", aliases=["max_latency"])
class Latency(_Budget):
    """The call took at most `max_ms` milliseconds."""

    options = {"max_ms": opt(int, float, help="the most a call may take, in milliseconds")}
    budget_key = "max_ms"

    def check(self, inp: EvalInput) -> Raw:
        if inp.latency_ms <= self.budget:
            return 1.0, None, f"latency {fmt.ms(inp.latency_ms)} <= {fmt.ms(self.budget)}"
        return 0.0, None, f"latency {fmt.ms(inp.latency_ms)} exceeds max {fmt.ms(self.budget)}"
