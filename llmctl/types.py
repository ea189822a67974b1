"""Data shared between the engine's parts: cases, calls, scores, outcomes.

These are plain dataclasses so that every layer (models, evaluators, store,
gate, reports) can be built and tested on its own.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

DEFAULT_CONCURRENCY = 20  # model calls in flight at once (llmctl.yaml `concurrency`, --concurrency)

Messages = list[dict[str, Any]]  # content: text, or OpenAI content parts (images)


@dataclass
class EvaluatorSpec:
    """One configured check: its registered `type` and its full configuration.

    `config` holds everything the user wrote (including the common options
    `not`, `weight`, `threshold`, `metric`), and is stored with every score.
    """

    type: str
    config: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None

    @property
    def name(self) -> str:
        """The metric name scores are reported under (`metric:` or the type)."""
        return str(self.config.get("metric") or self.type)


@dataclass
class Case:
    """One evaluation case of an evalset. `id` is stable (given or content-derived)."""

    id: str
    vars: dict[str, Any]
    expected: Any = None
    asserts: list[EvaluatorSpec] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    expected_tool_calls: list[dict[str, Any]] | None = None  # [{name, args}] for tool_call_f1
    messages: list[dict[str, Any]] = field(default_factory=list)  # history after the rendered prompt
    tool_results: dict[str, Any] | list[Any] | None = None  # by tool name, or a list in call order
    max_turns: int = 1  # model calls in the agent loop per user message (1: no loop)
    turns: list[str] = field(default_factory=list)  # scripted user messages after the first answer


@dataclass(frozen=True)
class Deployment:
    """One endpoint of a fleet alias (`deployments:` in llmctl.yaml); None: the alias's own value."""

    api_base: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    weight: float = 1.0


@dataclass
class ModelSpec:
    """A resolved model: what to call and how (from a litellm id or an llmctl.yaml alias)."""

    name: str  # as written by the user (alias or litellm id); stored in results
    litellm_id: str  # "openai/gpt-4o-mini", "hosted_vllm/...", or "echo" / "scripted"
    api_base: str | None = None
    api_key_env: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    input_cost_per_1k: float | None = None
    output_cost_per_1k: float | None = None
    batch_input_cost_per_1k: float | None = None  # price: {batch_input_per_1k} (through a batch API)
    batch_output_cost_per_1k: float | None = None
    batch: bool = False  # the alias's `batch: true` (llmctl.run._batch)
    max_concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    timeout: float = 60.0
    retries: int = 4
    stream: bool = False
    transport: str = "auto"  # auto | native | litellm (the alias's `transport:`)
    headers: dict[str, str] = field(default_factory=dict)  # sent with every call, on both transports
    # a fleet: several endpoints behind the alias, and the aliases tried when all of them fail
    # (litellm's Router; see llmctl.models._litellm)
    deployments: tuple[Deployment, ...] = ()
    fallbacks: tuple[ModelSpec, ...] = ()
    # scripted-model options
    responses: dict[str, Any] | None = None
    default: str | None = None
    function: str | None = None
    latency_ms: float | None = None

    @property
    def offline(self) -> bool:
        return self.litellm_id in ("echo", "scripted")


@dataclass(frozen=True)
class Usage:
    """Token counts of one model call, or of several added up (`a + b`, as inspect_ai's `ModelUsage`).

    As the provider reported them (llmctl.models._response `parse_usage`); None where the value was
    not a count. `cached_tokens` (`usage.prompt_tokens_details.cached_tokens`: prompt tokens read
    from the provider's prompt cache, part of `prompt_tokens`) and `reasoning_tokens`
    (`usage.completion_tokens_details.reasoning_tokens`, part of `completion_tokens`) are None
    when the provider sent no such detail; so is `cache_write_tokens`, the prompt tokens written
    to the provider's prompt cache (Anthropic's `usage.cache_creation_input_tokens`, as litellm
    and its proxy report it, or `prompt_tokens_details.cache_creation_tokens`), part of `prompt_tokens`.

    Adding: a count one side does not know is not known in the sum (None); a detail is the sum of
    the sides that reported it, None when neither did. The stored columns are these five fields
    (`results`: prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cache_write_tokens).
    """

    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_write_tokens: int | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Usage:
        """The counts a mapping holds under the five names (a stored row, a report's result); a
        missing or NULL count stays unknown."""
        return cls(
            row.get("prompt_tokens"),
            row.get("completion_tokens"),
            cached_tokens=row.get("cached_tokens"),
            reasoning_tokens=row.get("reasoning_tokens"),
            cache_write_tokens=row.get("cache_write_tokens"),
        )

    def counted(self) -> Usage:
        """The same with every None as 0: for totals of what was reported (llmctl.spend), where an
        unknown count adds nothing rather than making the total unknown."""
        return Usage(
            self.prompt_tokens or 0,
            self.completion_tokens or 0,
            cached_tokens=self.cached_tokens or 0,
            reasoning_tokens=self.reasoning_tokens or 0,
            cache_write_tokens=self.cache_write_tokens or 0,
        )

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            prompt_tokens=_known_sum(self.prompt_tokens, other.prompt_tokens),
            completion_tokens=_known_sum(self.completion_tokens, other.completion_tokens),
            cached_tokens=_detail_sum(self.cached_tokens, other.cached_tokens),
            reasoning_tokens=_detail_sum(self.reasoning_tokens, other.reasoning_tokens),
            cache_write_tokens=_detail_sum(self.cache_write_tokens, other.cache_write_tokens),
        )


def _known_sum(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def _detail_sum(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens")

_T = TypeVar("_T")


def _takes_token_keywords(default: Usage) -> Callable[[type[_T]], type[_T]]:
    """A class whose token counts live in one `usage` field still takes them as the five keywords
    (`CallResult(output="x", prompt_tokens=9, completion_tokens=2)`, the form from before `usage`,
    kept for code outside llmctl): given, they build `usage` from `default` (the old defaults);
    giving both `usage` and a count is a TypeError. Read back, each is a read-only property."""

    def decorate(cls: type[_T]) -> type[_T]:
        generated: Callable[..., None] = cls.__init__

        @functools.wraps(generated)
        def __init__(self: _T, *args: Any, **kwargs: Any) -> None:
            counts = {name: kwargs.pop(name) for name in TOKEN_FIELDS if name in kwargs}
            if counts:
                if "usage" in kwargs:
                    raise TypeError(f"{cls.__name__}() takes `usage` or the token counts, not both")
                kwargs["usage"] = dataclasses.replace(default, **counts)
            generated(self, *args, **kwargs)

        setattr(cls, "__init__", __init__)  # noqa: B010 (mypy refuses assigning to a method)
        return cls

    return decorate


class _TokenCounts:
    """The five counts of `self.usage` as read-only attributes (`result.prompt_tokens`, ...)."""

    usage: Usage

    @property
    def prompt_tokens(self) -> int | None:
        """`usage.prompt_tokens`. None: unknown (the provider sent no count, or an impossible one)."""
        return self.usage.prompt_tokens

    @property
    def completion_tokens(self) -> int | None:
        """`usage.completion_tokens`. None: unknown."""
        return self.usage.completion_tokens

    @property
    def cached_tokens(self) -> int | None:
        """`usage.cached_tokens`: of prompt_tokens, read from the provider's prompt cache; None: not reported."""
        return self.usage.cached_tokens

    @property
    def reasoning_tokens(self) -> int | None:
        """`usage.reasoning_tokens`: of completion_tokens; None: not reported."""
        return self.usage.reasoning_tokens

    @property
    def cache_write_tokens(self) -> int | None:
        """`usage.cache_write_tokens`: of prompt_tokens, written to the provider's prompt cache."""
        return self.usage.cache_write_tokens


NO_TOKENS = Usage(0, 0)  # a call's counts before it reports any (CallResult's default)
UNKNOWN_TOKENS = Usage(None, None)  # nothing known (CaseOutcome's default)


@_takes_token_keywords(NO_TOKENS)
@dataclass
class CallResult(_TokenCounts):
    """The outcome of one model call (or its cached copy). Its token counts are `usage` (also
    readable as `prompt_tokens`, `completion_tokens`, `cached_tokens`, `reasoning_tokens`,
    `cache_write_tokens`, and accepted as those keywords)."""

    output: str | None
    error: str | None = None
    usage: Usage = NO_TOKENS
    cost_usd: float = 0.0  # a cached copy: what the call would cost at today's prices (saved, not spent)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    cached: bool = False
    retries: int = 0
    tool_calls: list[dict[str, Any]] | None = None  # {id, name, arguments, raw_arguments}
    finish_reason: str | None = None
    turns: list[dict[str, Any]] | None = None  # agent loops: every call's output, calls, tokens, cost


@dataclass
class EvalInput:
    """What an evaluator sees for one result."""

    output: str
    expected: Any = None
    vars: dict[str, Any] = field(default_factory=dict)
    case_id: str = ""
    model: str = ""
    prompt: str = ""
    messages: Messages = field(default_factory=list)
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    prompt_tokens: int | None = 0  # None: unknown
    completion_tokens: int | None = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments, raw_arguments}
    finish_reason: str | None = None
    tools: dict[str, dict[str, Any]] | None = None  # the prompt's declared tools: name -> parameters schema
    expected_tool_calls: list[dict[str, Any]] | None = None
    turns: list[dict[str, Any]] | None = None  # an agent loop's calls: {output, tool_calls, ...} each


@dataclass
class ScoreResult:
    """One evaluator's verdict on one result. `error` set means it could not judge (never a pass).

    `unscored` (the `human` evaluator on an unlabelled output): no verdict at all; it neither
    passes nor fails the case and is stored with NULL score and passed.
    """

    score: float
    passed: bool
    reason: str = ""
    error: str | None = None
    unscored: bool = False


@_takes_token_keywords(UNKNOWN_TOKENS)
@dataclass
class CaseOutcome(_TokenCounts):
    """One stored result with its scores, as the gate and the reports see it. The model call's
    token counts are `usage` (readable and accepted as the five count names, as `CallResult`'s)."""

    prompt: str
    model: str
    case_id: str
    repeat_index: int = 0
    passed: bool = False  # no error and every evaluator passed
    error: str | None = None
    # No verdict at all: every evaluator left it unscored (an unlabelled `human`). Neither a pass
    # nor a fail (`passed` is False): set aside like an error by the summary's figures and the gate.
    unscored: bool = False
    scores: dict[str, float] = field(default_factory=dict)  # evaluator name -> score
    evaluator_passed: dict[str, bool] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    cached: bool = False
    batched: bool = False  # answered through a provider's batch API (its latency is not the call's)
    output: str | None = None
    version_hash: str = ""
    critical: list[str] = field(default_factory=list)  # names of its `severity: critical` evaluators
    tool_calls: list[dict[str, Any]] | None = None  # {id, name, arguments, raw_arguments}
    # Tokens of the model call(s) (None: unknown or not reported; its judges' tokens are apart);
    # a cached result's `cost_usd` is its price today, saved rather than spent.
    usage: Usage = UNKNOWN_TOKENS
    # The model calls its evaluators (judges) made: how many, their tokens, what the fresh ones
    # cost (`judge_cost_usd`, spent) and what the cached ones would have cost today (saved).
    judge_calls: int = 0
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0
    judge_cost_usd: float = 0.0
    judge_saved_usd: float = 0.0

    @property
    def shown_output(self) -> str | None:
        """The output text followed by one `-> name(arguments)` line per tool call (for reports)."""
        if not self.tool_calls:
            return self.output
        lines = [self.output] if self.output else []
        lines += [f"-> {c.get('name')}({c.get('raw_arguments', '')})" for c in self.tool_calls]
        return "\n".join(lines)
