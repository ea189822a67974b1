"""Typed records at the store boundary: what `Store` hands back for a stored run, and what
`RunWriter.add` takes for one result.

A `RunRecord` is one row of `runs` with the counts over its results (all of them, or those of one
prompt / prompt version, as the `Store` method says). Its fields are attributes; `to_dict()` is
the JSON form that `runs show --json`, `runs list --json` and the exports print (the same keys,
in the same order, as the rows the store returned before it had records).

A `ResultRow` is one row of `results` as the eval pipeline hands it over, with its `ScoreRow`s
and the `JudgeCallRow`s of the model calls its evaluators made; the writer adds the run id, the
positions and the time, encodes the JSON columns, scrubs API keys and coerces what does not fit
a column (llmctl.store._writer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias, TypedDict

from llmctl.types import NO_TOKENS, UNKNOWN_TOKENS, Usage

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from llmctl.summary import RunSummary

# A JSON value as json.loads returns it (what the store keeps in its JSON columns).
JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject = dict[str, JSONValue]


class MergedFrom(TypedDict):
    """One shard run a merged run was made from (`config.merged_from`)."""

    store: str
    run_id: str
    shard: str | None


class RunConfig(TypedDict, total=False):
    """A run's `config` column, as `llmctl eval` writes it (llmctl.run._runner `_open_side`); a run
    from an older llmctl, or made by `runs merge`, lacks some keys (read them with `.get`)."""

    role: str  # candidate | baseline
    invocation: str  # one id per `llmctl eval`: its runs (llmctl.store.Store.invocation_runs)
    ref: str  # the prompts' version reference (WORKTREE: the working tree)
    models: list[str]
    repeat: int
    prompts: dict[str, str]  # prompt name -> version hash
    evalset_path: str
    no_cache: bool
    shard: list[int] | None  # [index from 1, count]
    limit: int | None
    cases: list[str] | None  # --case globs
    rerun_failed: str | None
    baseline: str | None
    concurrency: int
    batch: bool
    fingerprint: str | None
    changed: list[str] | None
    merged_from: list[MergedFrom]  # a merged run: its shard runs


# The key order of `to_dict()`: the `runs` columns, then the counts.
RUN_FIELDS: tuple[str, ...] = (
    "id",
    "started_at",
    "finished_at",
    "status",
    "git_commit",
    "git_branch",
    "evalset",
    "config",
    "baseline_run_id",
    "summary",
    "llmctl_version",
    "shard",
    "gate_snapshot",
    "n_results",
    "n_errors",
    "n_passed",
    "n_unscored",
    "cost_usd",
    "prompts",
    "models",
    "pass_rate",
)


@dataclass(frozen=True)
class RunRecord:
    """One stored run with the counts over its results.

    `summary_json` is the `runs.summary` column as stored (None until the run finished);
    `summary` is the same parsed into `llmctl.summary.RunSummary`. `n_passed` counts results that
    passed with no error; `pass_rate` is over the results with a verdict (no error, not an
    unlabelled `human`), None when there are none.
    """

    id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    git_commit: str | None
    git_branch: str | None
    evalset: str | None
    config: RunConfig
    baseline_run_id: str | None
    summary_json: JSONObject | None
    llmctl_version: str | None
    shard: str | None
    gate_snapshot: int | None
    n_results: int = 0
    n_errors: int = 0
    n_passed: int = 0
    n_unscored: int = 0
    cost_usd: float = 0.0
    prompts: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    @property
    def pass_rate(self) -> float | None:
        graded = self.n_results - self.n_errors - self.n_unscored
        return self.n_passed / graded if graded else None

    @property
    def role(self) -> str:
        """`candidate`, or `baseline` for the baseline side of a comparison (`config.role`)."""
        return str(self.config.get("role") or "candidate")

    @property
    def summary(self) -> RunSummary | None:
        """The stored summary parsed into a new `RunSummary` (None for a run that has not finished)."""
        from llmctl.summary import RunSummary

        return RunSummary.from_dict(self.summary_json) if self.summary_json is not None else None

    @property
    def gate_passed(self) -> bool | None:
        """The stored summary's `gate_passed` (None: no summary, or a run without a gate)."""
        value = (self.summary_json or {}).get("gate_passed")
        return value if isinstance(value, bool) else None

    def to_dict(self) -> dict[str, object]:
        """The run as JSON-ready data (times stay `datetime`: the caller's encoder writes them)."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "git_commit": self.git_commit,
            "git_branch": self.git_branch,
            "evalset": self.evalset,
            "config": dict(self.config),
            "baseline_run_id": self.baseline_run_id,
            "summary": self.summary_json,
            "llmctl_version": self.llmctl_version,
            "shard": self.shard,
            "gate_snapshot": self.gate_snapshot,
            "n_results": self.n_results,
            "n_errors": self.n_errors,
            "n_passed": self.n_passed,
            "n_unscored": self.n_unscored,
            "cost_usd": self.cost_usd,
            "prompts": list(self.prompts),
            "models": list(self.models),
            "pass_rate": self.pass_rate,
        }


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One result for `RunWriter.add`: a case answered (or failed) by one model, with its verdict.

    `input` (the rendered messages; an image is stored as its sha256, never its bytes) and
    `expected` are JSON text or a value to encode as JSON; `tool_calls` and `turns` are encoded
    too. `result_key` is derived from (prompt, case_id, model, repeat_index) when not given.
    `passed`/`score` are None for an error or an unscored result. The writer stores what it
    cannot fit in a column as NULL (or text), never failing the batch (llmctl.store._writer).
    """

    prompt: str
    case_id: str
    model: str
    result_key: str | None = None
    version_hash: str | None = None
    repeat_index: int = 0
    input: object = None
    expected: object = None
    output: str | None = None
    error: str | None = None
    usage: Usage = NO_TOKENS  # the `results` columns' defaults: 0 prompt and completion tokens
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    cached: bool = False
    retries: int = 0
    tool_calls: Sequence[Mapping[str, object]] | None = None
    finish_reason: str | None = None
    turns: Sequence[Mapping[str, object]] | None = None
    passed: bool | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """One evaluator's score of a result. `config` is the evaluator's full configuration (a
    mapping, or its JSON text); `idx` is its position among the result's scores (default: the
    position in the list given to `RunWriter.add`). `score`/`passed` are None when unscored."""

    evaluator: str
    config: object = None
    score: float | None = None
    passed: bool | None = None
    reason: str | None = None
    error: str | None = None
    idx: int | None = None


@dataclass(frozen=True, slots=True)
class JudgeCallRow:
    """One model call an evaluator (a judge) made while scoring a result: `idx` is its score's
    position, `call_index` numbers the calls of that score; `usage` None counts: unknown."""

    evaluator: str
    model: str | None = None
    idx: int = 0
    call_index: int = 0
    usage: Usage = UNKNOWN_TOKENS
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    cached: bool = False
    error: str | None = None
