"""`llmctl eval`: render every case, fan out over the models, score, store, gate (the Runner).

The pipeline streams: cases are rendered in chunks, the response cache is
looked up per chunk (one query), misses are fed to a pool of `concurrency`
workers, and each finished result is scored and handed to the store's
background writer. Nothing but the in-flight cases is held in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmctl.config import Config, GateConfig
from llmctl.errors import EXIT_GATE_FAILED, EXIT_INFRA, EXIT_OK, InputError, Interrupted, StoreIOError
from llmctl.evalset import Evalset, find_evalsets, load_evalset
from llmctl.hashing import sha256_hex
from llmctl.prompt import Prompt, PromptLibrary
from llmctl.safetext import strip_escapes
from llmctl.sandbox import DeadlineExceeded
from llmctl.sources import Source, WorktreeSource
from llmctl.types import CallResult, Case, CaseOutcome, EvalInput, ModelSpec, ScoreResult

CHUNK = 2000


@dataclass
class EvalOptions:
    """What `llmctl eval` was asked to do (the CLI's flags)."""

    evalsets: list[str] = field(default_factory=list)
    models: list[str] | None = None
    baseline: str | None = None
    changed_only: bool = False
    concurrency: int | None = None
    repeat: int | None = None
    no_cache: bool = False
    resume: str | None = None
    shard: tuple[int, int] | None = None  # (index from 1, count)
    dry_run: bool = False
    prompt_ref: str | None = None  # evaluate prompts as they are at this ref (default: work tree)
    deadline: float | None = None  # seconds for the whole run
    limit: int | None = None  # only the first N cases of each evalset (after the other filters)
    case_globs: list[str] | None = None  # only cases whose id matches one of these globs
    rerun_failed: str | None = None  # only the cases that failed or errored in this run


@dataclass
class RunInfo:
    """One evalset's run (and its baseline run) with the gate's verdict."""

    run_id: str
    evalset: str
    baseline_run_id: str | None = None
    verdict: Any = None  # llmctl.gate.Verdict
    summary: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (prompt, model, case_id) with error
    error_causes: list[tuple[str, int]] = field(default_factory=list)  # (first line of the error, count), most first
    interrupted: bool = False
    reasons: list[str] = field(default_factory=list)  # what changed since the baseline (fingerprint)


@dataclass
class EvalOutcome:
    runs: list[RunInfo] = field(default_factory=list)
    exit_code: int = EXIT_OK
    dry_run_cases: int = 0
    skipped: list[str] = field(default_factory=list)  # evalsets skipped by --changed-only
    dry_run_tokens: int = 0  # estimated prompt tokens of the calls a dry run counted
    dry_run_cost: float | None = None  # estimated prompt cost (USD) where every model has a price
    dry_run_by_evalset: dict[str, int] = field(default_factory=dict)


@dataclass
class Progress:
    """Counters the CLI shows while a run is going."""

    total: int = 0
    done: int = 0
    cached: int = 0
    errors: int = 0
    retries: int = 0
    failed: int = 0
    phase: str = ""
    started: float = field(default_factory=time.monotonic)


Listener = Callable[[Progress], None]


class _Breaker:
    """Stops calling a model that fails every time the same way (a dead server, a bad key).

    A model whose first calls all end (after their retries) in one identical error, or one
    that then fails the same way many times in a row, is not called again in this run: its
    remaining cases are recorded as errors at once, with the cause, instead of each spending
    its own retries. `--resume` calls them again once the cause is fixed.
    """

    FIRST = 8  # identical failures with no success yet
    LATER = 50  # identical failures in a row after successes
    # Load-dependent failures never open it: a cold server or a busy machine can time out or
    # rate-limit every one of the first concurrent calls, and the next ones may well succeed.
    TRANSIENT = ("timeout after", "HTTP 429")

    def __init__(self, say: Callable[[str], None], run_id: str) -> None:
        self._say = say
        self._run_id = run_id
        self._state: dict[str, tuple[bool, str | None, int]] = {}  # model -> (ever ok, cause, run length)
        self._open: dict[str, str] = {}

    def open_for(self, model: str) -> str | None:
        return self._open.get(model)

    def record(self, model: str, error: str | None) -> None:
        ok, cause, run = self._state.get(model, (False, None, 0))
        if error is None:
            self._state[model] = (True, None, 0)
            return
        first = (error.strip().splitlines() or [""])[0][:300]
        if any(first.startswith(t) or t in first for t in self.TRANSIENT):
            self._state[model] = (ok, None, 0)
            return
        run = run + 1 if first == cause else 1
        self._state[model] = (ok, first, run)
        if run >= (self.LATER if ok else self.FIRST) and model not in self._open:
            self._open[model] = f"not called: the previous {run} calls to {model} all failed with: {first}"
            self._say(
                f"warning: stopped calling {strip_escapes(model)}: {run} calls in a row failed with: "
                f"{strip_escapes(first)}; its remaining cases are recorded as errors "
                f"(fix the cause, then `llmctl eval --resume {self._run_id}` calls them)"
            )


@dataclass
class _Job:
    prompt: Prompt
    model: ModelSpec
    case: Case
    repeat_index: int
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    key: str  # result key
    cache_key: str | None
    evaluators: list[Any]
    side: _Side | None = None  # the run it belongs to (None: a dry run)
    follows: asyncio.Future[CallResult] | None = None  # the same request already in flight: share its result


@dataclass
class _Plan:
    """One side (candidate or baseline) of one evalset: the prompts to evaluate."""

    evalset: Evalset
    prompts: list[Prompt]
    models: list[ModelSpec]
    repeat: int
    cases: list[Case]
    fingerprint: str | None = None  # llmctl.fingerprint.digest of what the run depends on
    reasons: list[str] | None = None  # why it is evaluated (None: not compared with a baseline)


@dataclass
class _Side:
    """One run being executed: its plan, its stored run and what of it is finished."""

    plan: _Plan
    run_id: str
    role: str
    skip: set[str]  # result keys finished before this invocation (a resume)
    finished: set[str] = field(default_factory=set)  # result keys finished so far
    writer: Any = None  # llmctl.store._writer.RunWriter while executing


def _interleave(iterators: list[Iterator[_Job]]) -> Iterator[_Job]:
    """Round-robin over the sides' jobs: the baseline's and the candidate's call for one case
    are made next to each other, so drift of the provider or the machine hits both alike."""
    live = list(iterators)
    while live:
        for it in list(live):
            job = next(it, None)
            if job is None:
                live.remove(it)
            else:
                yield job


def _shard_of(case_id: str, count: int) -> int:
    """Stable shard (0-based) of a case: by hash of its id, so every machine agrees."""
    return int(sha256_hex(case_id)[:8], 16) % count


def git_info(root: Path) -> tuple[str | None, str | None]:
    """(commit, branch) of the project, as git itself resolves them.

    Asked of `git rev-parse`, so a linked worktree records
    its own commit and a submodule its own, not the superproject's; (None, None) outside
    git or without a git executable; a detached HEAD has no branch.
    """
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD", "--symbolic-full-name", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    lines = proc.stdout.split()
    commit = lines[0] if proc.returncode == 0 and lines and len(lines[0]) >= 40 else None
    if commit is None:  # no commit yet: the branch is still known
        try:
            sym = subprocess.run(
                ["git", "symbolic-ref", "-q", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None, None
        ref = sym.stdout.strip() if sym.returncode == 0 else ""
    else:
        ref = lines[1] if len(lines) > 1 else ""
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    return commit, branch


def _prompt_at(cfg: Config, library: PromptLibrary, name: str, ref: str | None) -> Prompt:
    if ref is None:
        return library.get(name)
    from llmctl.release import prompt_at

    return prompt_at(cfg, name, ref)


def _config_at(cfg: Config, source: Source) -> Config | None:
    """llmctl.yaml as `source` has it (None when absent or invalid there: the project's is used)."""
    from llmctl.config import CONFIG_NAME, parse_config
    from llmctl.yamlio import load_yaml_text

    path = cfg.path or cfg.root / CONFIG_NAME
    try:
        rel = path.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return None
    raw = source.read(rel)
    if raw is None:
        return None
    try:
        return parse_config(load_yaml_text(raw.decode("utf-8"), rel), path)
    except (InputError, UnicodeDecodeError):
        return None


def _cached_result(hit: dict[str, Any], spec: ModelSpec | None = None) -> CallResult:
    """A cache entry as a result: it keeps the latency of the call that produced it; its cost is
    its tokens at today's prices (the alias's `price:`, else litellm's cost map, with the cached
    prompt tokens and reasoning tokens at their own rates), which the run reports as saved, not
    spent. An entry whose token counts are unknown keeps the cost it was stored with."""
    prompt_tokens = hit.get("prompt_tokens")
    completion_tokens = hit.get("completion_tokens")
    cached_tokens = hit.get("cached_tokens")
    reasoning_tokens = hit.get("reasoning_tokens")
    cost = float(hit.get("cost_usd") or 0.0)
    if spec is not None and prompt_tokens is not None and completion_tokens is not None:
        from llmctl.models import price_for
        from llmctl.models._cost import cost_usd

        cost = cost_usd(price_for(spec), prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens)
    return CallResult(
        output=hit.get("output"),
        prompt_tokens=prompt_tokens,  # NULL stays unknown
        completion_tokens=completion_tokens,
        cost_usd=cost,
        latency_ms=float(hit.get("latency_ms") or 0.0),
        ttft_ms=hit.get("ttft_ms"),
        cached=True,
        cached_tokens=cached_tokens,
        reasoning_tokens=reasoning_tokens,
        tool_calls=_loads_calls(hit.get("tool_calls")),
        finish_reason=hit.get("finish_reason"),
        turns=_loads_calls(hit.get("turns")),
    )


def _loop_params(case: Case, params: dict[str, Any]) -> dict[str, Any]:
    """The params a cache key covers: an agent loop's answer depends on its tool results and turns too."""
    if (case.max_turns <= 1 or case.tool_results is None) and not case.turns:
        return params
    loop = {"tool_results": case.tool_results, "max_turns": case.max_turns, "turns": case.turns}
    return {**params, "_llmctl_loop": loop}


def tool_result_for(case: Case, name: str, index: int) -> str | None:
    """The text fed back for the `index`-th call (0-based, over the whole loop) to tool `name`;
    None when the case has no result for it (the loop stops)."""
    results = case.tool_results
    if isinstance(results, dict):
        if name not in results:
            return None
        value = results[name]
    elif isinstance(results, list):
        if index >= len(results):
            return None
        value = results[index]
    else:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


async def agent_loop(client: Any, job: _Job) -> CallResult:
    """Call the model; while it calls tools the case has results for, feed them back and call
    again, up to the case's `max_turns` calls per user message; then each scripted user turn
    (`turns:`) is appended after the answer and the same runs again. The result is the last
    answer, with every tool call, the tokens, cost and latency summed, and each call as a turn."""
    case = job.case
    result: CallResult = await client.complete(job.model, job.messages, job.params, repeat_index=job.repeat_index)
    looping = case.max_turns > 1 and case.tool_results is not None
    if not looping and not case.turns:
        return result
    messages: Any = list(job.messages)  # with assistant tool calls and tool results (not only strings)
    turns: list[dict[str, Any]] = []
    all_calls: list[dict[str, Any]] = []
    totals = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0, "latency_ms": 0.0, "retries": 0}
    unknown_tokens = False
    details: dict[str, int | None] = {"cached_tokens": None, "reasoning_tokens": None}  # None: never reported
    fed = 0
    user_turn = 0
    calls_this_turn = 0
    while True:
        calls_this_turn += 1
        turns.append(
            {
                "user_turn": user_turn,
                "output": result.output,
                "tool_calls": result.tool_calls,
                "finish_reason": result.finish_reason,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "cost_usd": result.cost_usd,
                "latency_ms": result.latency_ms,
                "error": result.error,
            }
        )
        for name in ("cost_usd", "latency_ms", "retries"):
            totals[name] += getattr(result, name) or 0
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(result, name)
            unknown_tokens = unknown_tokens or value is None
            totals[name] += value or 0
        for name in details:
            value = getattr(result, name)
            if value is not None:
                details[name] = (details[name] or 0) + value
        all_calls += result.tool_calls or []
        if result.error is not None:
            break
        replies = []
        if looping and result.tool_calls and calls_this_turn < case.max_turns:
            for call in result.tool_calls:
                text = tool_result_for(case, call["name"], fed)
                if text is None:
                    break
                fed += 1
                replies.append({"role": "tool", "tool_call_id": call.get("id") or "", "content": text})
        if replies and len(replies) == len(result.tool_calls or ()):
            messages.append(_assistant_message(result))
            messages += replies
        elif user_turn < len(case.turns):  # the next scripted user message
            messages.append({"role": "assistant", "content": result.output or ""})
            messages.append({"role": "user", "content": case.turns[user_turn]})
            user_turn += 1
            calls_this_turn = 0
        else:
            break
        result = await client.complete(job.model, messages, job.params, repeat_index=job.repeat_index)
    return CallResult(
        output=result.output,
        error=result.error,
        prompt_tokens=None if unknown_tokens else int(totals["prompt_tokens"]),
        completion_tokens=None if unknown_tokens else int(totals["completion_tokens"]),
        cost_usd=float(totals["cost_usd"]),
        latency_ms=float(totals["latency_ms"]),
        retries=int(totals["retries"]),
        tool_calls=all_calls or None,
        finish_reason=result.finish_reason,
        turns=turns,
        cached_tokens=details["cached_tokens"],
        reasoning_tokens=details["reasoning_tokens"],
    )


def _assistant_message(result: CallResult) -> dict[str, Any]:
    """The assistant message that made `result`'s tool calls, as OpenAI expects it back."""
    return {
        "role": "assistant",
        "content": result.output or None,
        "tool_calls": [
            {
                "id": c.get("id") or "",
                "type": "function",
                "function": {"name": c["name"], "arguments": c["raw_arguments"]},
            }
            for c in result.tool_calls or ()
        ],
    }


def _loads_calls(value: Any) -> list[dict[str, Any]] | None:
    """Stored tool calls (JSON text, or already decoded) as a list; None when there are none."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) and value else None


def _cache_row(key: str, spec: ModelSpec, result: CallResult) -> dict[str, Any]:
    return {
        "key": key,
        "model": spec.litellm_id,
        "output": result.output,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cached_tokens": result.cached_tokens,
        "reasoning_tokens": result.reasoning_tokens,
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
        "ttft_ms": result.ttft_ms,
        "tool_calls": result.tool_calls,
        "finish_reason": result.finish_reason,
        "turns": result.turns,
    }


def _judge_rows(evaluator: str, idx: int, calls: list[tuple[str, CallResult]]) -> list[dict[str, Any]]:
    """The judge_calls rows of one evaluator's model calls (`idx`: its score's position)."""
    return [
        {
            "evaluator": evaluator,
            "idx": idx,
            "call_index": i,
            "model": model,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "cached_tokens": r.cached_tokens,
            "reasoning_tokens": r.reasoning_tokens,
            "cost_usd": r.cost_usd,
            "latency_ms": r.latency_ms,
            "cached": r.cached,
            "error": r.error,
        }
        for i, (model, r) in enumerate(calls)
    ]


class _BatchedCacheLookup:
    """Cache lookups for calls made while scoring (judges), gathered into one query per tick.

    One store query per judge call would serialise the run on the store; instead the
    keys asked for within a few milliseconds are looked up together, off the event loop.
    A failed lookup is a miss: the call is simply made.
    """

    def __init__(self, store: Any, delay: float = 0.005) -> None:
        self.store = store
        self.delay = delay
        self._pending: dict[str, list[asyncio.Future[dict[str, Any] | None]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def get(self, key: str) -> dict[str, Any] | None:
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, []).append(future)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(self.delay)
        batch, self._pending, self._flusher = self._pending, {}, None
        try:
            hits: dict[str, dict[str, Any]] = await asyncio.to_thread(self.store.cache_get_many, list(batch))
        except Exception:
            hits = {}
        for key, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(hits.get(key))


class Runner:
    """Runs evalsets against models and stores the results (one instance per invocation)."""

    def __init__(self, cfg: Config, options: EvalOptions, listener: Listener | None = None) -> None:
        self.cfg = cfg
        self.options = options
        self.listener = listener
        self.progress = Progress()
        self._store: Any = None
        self.concurrency = options.concurrency or cfg.concurrency
        self._evaluator_cache: dict[tuple[int, str], Any] = {}
        self._failed_ids: set[str] | None = None
        # Groups the runs of one `llmctl eval` (one per evalset and side): `report latest`,
        # `runs show latest` and the PR comment cover all of them.
        from llmctl.store import new_run_id

        self.invocation = "i" + new_run_id()[1:]
        self._deadline: float | None = None
        self._reserve: Any = None  # llmctl.store._space.SpaceReserve, held while runs write
        self._run_locks: dict[str, Any] = {}  # run id -> llmctl.store._runlock.RunLock, held to the verdict
        self._base_cfg: Config | None = None  # llmctl.yaml as it is at --baseline (its aliases price that side)

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def store(self) -> Any:
        if self._store is None:
            from llmctl.store import Store

            self._store = Store(self.cfg.store_path, on_wait=self._wait_message)
        return self._store

    def _wait_message(self, message: str) -> None:
        import sys

        sys.stderr.write(message.rstrip() + "\n")

    def _emit(self) -> None:
        if self.listener is not None:
            self.listener(self.progress)

    def _resolve_models(self, names: list[str], cfg: Config | None = None) -> list[ModelSpec]:
        """Specs for `names` from `cfg` (the baseline's llmctl.yaml) where it has the alias, else the project's."""
        from llmctl.models import check_credentials, resolve_model

        specs = []
        for name in names:
            use = cfg if cfg is not None and name in cfg.models else self.cfg
            spec = resolve_model(name, use)
            if not self.options.dry_run:
                check_credentials(spec)
            specs.append(spec)
        return specs

    # -- planning ---------------------------------------------------------------------------

    def _plan(
        self, ev: Evalset, library: PromptLibrary, ref: str | None, at_ref: dict[str, Prompt] | None = None
    ) -> _Plan:
        """The prompts, models and cases of one side. With `at_ref` (every prompt at a baseline
        ref), prompts missing there are left out: they are new in this change."""
        prompts = []
        for pref in ev.prompts:
            if at_ref is not None:
                if pref.name in at_ref:
                    prompts.append(at_ref[pref.name])
                continue
            try:
                prompt = _prompt_at(self.cfg, library, pref.name, pref.ref if ref is None else ref)
            except InputError as exc:
                if exc.file is None:
                    exc.file, exc.line = ev.path, pref.line
                raise
            if prompt is not None:
                prompts.append(prompt)
        model_names = self.options.models or ev.models
        if not model_names:
            defaults = {p.model for p in prompts if p.model}
            model_names = sorted(defaults) if defaults else list(self.cfg.default_models)
        models = self._resolve_models(model_names, self._base_cfg if at_ref is not None else None)
        repeat = self.options.repeat or ev.repeat
        cases = ev.cases()
        if self.options.shard is not None:
            index, count = self.options.shard
            cases = [c for c in cases if _shard_of(c.id, count) == index - 1]
        cases = self._selected(cases)
        return _Plan(evalset=ev, prompts=prompts, models=models, repeat=repeat, cases=cases)

    def _selected(self, cases: list[Case]) -> list[Case]:
        """`--case GLOB`, `--rerun-failed RUN` and `--limit N`, in that order."""
        import fnmatch

        opts = self.options
        if opts.case_globs:
            cases = [c for c in cases if any(fnmatch.fnmatchcase(c.id, g) for g in opts.case_globs)]
        if opts.rerun_failed is not None:
            failed = self._failed_cases(opts.rerun_failed)
            cases = [c for c in cases if c.id in failed]
        if opts.limit is not None:
            cases = cases[: opts.limit]
        return cases

    def _failed_cases(self, run_ref: str) -> set[str]:
        if self._failed_ids is None:
            run = self.store.get_run(run_ref)
            self._failed_ids = {o.case_id for o in self.store.outcomes(str(run["id"])) if not o.passed or o.error}
        return self._failed_ids

    def _evaluators_for(self, prompt: Prompt, specs: list[Any]) -> list[Any]:
        from llmctl.evaluators import build_evaluator

        out = []
        for spec in specs:
            key = (id(spec), prompt.hash)
            built = self._evaluator_cache.get(key)
            if built is None:
                built = build_evaluator(
                    spec,
                    judge_model=self.cfg.judge_model,
                    schema=prompt.output_schema,
                    prompts_dir=self.cfg.prompts_path,
                )
                self._evaluator_cache[key] = built
            out.append(built)
        return out

    def _jobs(self, plan: _Plan, skip: set[str], *, render: bool = True, side: _Side | None = None) -> Iterator[_Job]:
        """Every (prompt, case, model, repeat) not in `skip`, rendered (`render=False`: with no
        messages, for recording cases the deadline left unfinished without rendering them again)."""
        from llmctl.models import cache_key
        from llmctl.store import result_key

        use_cache = not self.options.no_cache and render
        for prompt in plan.prompts:
            params = {**prompt.params, **prompt.request_params(), **plan.evalset.params}
            for case in plan.cases:
                evaluators = self._evaluators_for(prompt, [*plan.evalset.evaluators, *case.asserts])
                if not render:
                    messages: list[dict[str, Any]] = []
                    for model in plan.models:
                        for r in range(plan.repeat):
                            key = result_key(prompt.name, case.id, model.name, r)
                            if key not in skip:
                                yield _Job(prompt, model, case, r, messages, params, key, None, evaluators, side)
                    continue
                try:
                    messages = render_case(plan.evalset, prompt, case) + case.messages
                except InputError as exc:
                    raise _case_error(exc, plan.evalset, prompt, case) from None
                for model in plan.models:
                    for r in range(plan.repeat):
                        key = result_key(prompt.name, case.id, model.name, r)
                        if key in skip:
                            continue
                        ck = (
                            cache_key(model, messages, _loop_params(case, params), r)
                            if use_cache and not model.offline
                            else None
                        )
                        yield _Job(prompt, model, case, r, messages, params, key, ck, evaluators, side)

    # -- execution --------------------------------------------------------------------------

    def _score_inputs(self, job: _Job, result: CallResult) -> EvalInput:
        return EvalInput(
            output=result.output or "",
            expected=job.case.expected,
            vars=job.case.vars,
            case_id=job.case.id,
            model=job.model.name,
            prompt=job.prompt.name,
            messages=job.messages,
            cost_usd=result.cost_usd,
            latency_ms=result.latency_ms,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            tool_calls=list(result.tool_calls or ()),
            finish_reason=result.finish_reason,
            tools=job.prompt.tool_schemas() if job.prompt.tools else None,
            expected_tool_calls=job.case.expected_tool_calls,
            turns=result.turns,
        )

    def _call_model_for(self, client: Any, writer: Any) -> Callable[..., Any]:
        """The `call_model` that model-backed evaluators (judges) use: same client, same limits.

        Their calls go through the response cache too, so a fully cached re-run of an
        evalset with a judge makes no call at all. `_counts` numbers identical calls
        within one case (a judge's `samples`), so n samples stay n separate calls;
        `_lookup` is whether the graded output itself came from the cache. Every call's
        (model, result) is appended to `_record` (stored as the result's judge calls); a
        cached call is priced at today's prices (saved, not spent).
        """
        from llmctl.models import cache_key

        specs: dict[str, ModelSpec] = {}
        lookups = _BatchedCacheLookup(self.store)

        async def call_model(
            name: str,
            messages: list[dict[str, str]],
            params: dict[str, Any],
            *,
            _counts: dict[str, int],
            _lookup: bool,
            _record: list[tuple[str, CallResult]] | None = None,
        ) -> CallResult:
            result = await call(name, messages, params, _counts, _lookup)
            if _record is not None:
                _record.append((name, result))
            return result

        async def call(
            name: str, messages: list[dict[str, str]], params: dict[str, Any], _counts: dict[str, int], _lookup: bool
        ) -> CallResult:
            spec = specs.get(name)
            if spec is None:
                spec = specs[name] = self._resolve_models([name])[0]
            if spec.offline or self.options.no_cache:
                result: CallResult = await client.complete(spec, messages, params)
                return result
            first = cache_key(spec, messages, params, 0)
            sample = _counts.get(first, 0)
            _counts[first] = sample + 1
            key = first if sample == 0 else cache_key(spec, messages, params, sample)
            # A judge's prompt holds the output it grades: a freshly generated output means a
            # new prompt, so the cache is only worth asking when the output came from it.
            hit = await lookups.get(key) if _lookup else None
            if hit is not None:
                return _cached_result(hit, spec)
            result = await client.complete(spec, messages, params, repeat_index=sample)
            if result.error is None:
                writer.add_cache(_cache_row(key, spec, result))
            return result

        return call_model

    async def _finish(self, job: _Job, result: CallResult, call_model: Any) -> None:
        from llmctl.evaluators import case_passed

        scores: list[tuple[Any, ScoreResult]] = []
        judge_rows: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        if result.error is None:
            inp = self._score_inputs(job, result)
            deadline = self._deadline
            for ev in job.evaluators:
                if deadline is not None and time.monotonic() >= deadline:
                    # --deadline covers scoring too: what is left after it is an error, not a pass.
                    scores.append((ev, ScoreResult(score=0.0, passed=False, error="deadline exceeded before scoring")))
                    continue
                calls: list[tuple[str, CallResult]] = []
                try:
                    if ev.is_async:
                        call = functools.partial(call_model, _counts=counts, _lookup=result.cached, _record=calls)
                        sr = await ev.ascore(inp, call)
                    else:
                        sr = ev.score(inp)
                except Exception as exc:  # an evaluator bug must not lose the result
                    sr = ScoreResult(score=0.0, passed=False, error=f"{type(exc).__name__}: {exc}")
                judge_rows += _judge_rows(ev.name, len(scores), calls)
                scores.append((ev, sr))
        passed, score = case_passed([(ev.weight, sr) for ev, sr in scores], result.error)
        row = {
            "result_key": job.key,
            "prompt": job.prompt.name,
            "version_hash": job.prompt.hash,
            "case_id": job.case.id,
            "model": job.model.name,
            "repeat_index": job.repeat_index,
            "input": job.messages,
            "expected": json.dumps(job.case.expected, ensure_ascii=False, default=str),
            "output": result.output,
            "error": result.error,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "cached_tokens": result.cached_tokens,
            "reasoning_tokens": result.reasoning_tokens,
            "cost_usd": result.cost_usd,
            "latency_ms": result.latency_ms,
            "ttft_ms": result.ttft_ms,
            "cached": result.cached,
            "retries": result.retries,
            "tool_calls": result.tool_calls,
            "finish_reason": result.finish_reason,
            "turns": result.turns,
            "passed": None if result.error else passed,
            "score": None if result.error else score,
        }
        score_rows = [
            {
                "evaluator": ev.name,
                "config": ev.config,
                "score": None if sr.unscored else sr.score,
                "passed": None if sr.unscored else sr.passed,
                "reason": sr.reason,
                "error": sr.error,
            }
            for ev, sr in scores
        ]
        side = job.side
        assert side is not None
        side.writer.add(row, score_rows, judge_rows)
        side.finished.add(job.key)
        if job.cache_key is not None and not result.cached and result.error is None:
            side.writer.add_cache(_cache_row(job.cache_key, job.model, result))
        p = self.progress
        p.done += 1
        p.retries += result.retries
        if result.cached:
            p.cached += 1
        if result.error is not None:
            p.errors += 1
        elif not passed:
            p.failed += 1

    async def _execute(self, sides: list[_Side], deadline: float | None) -> None:
        """Run the sides' jobs through one pool of `concurrency` workers, interleaved.

        Two jobs of one invocation with the same cache key (an unchanged prompt on both sides)
        make one call: the second waits for the first and records its result as cached.
        """
        from llmctl.models import ModelClient

        queue: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=self.concurrency * 4)
        for side in sides:
            side.writer = self.store.writer(side.run_id)
        workers_n = self.concurrency
        stop = asyncio.Event()
        inflight: dict[str, asyncio.Future[CallResult]] = {}
        try:
            async with ModelClient(concurrency=self.concurrency) as client:
                call_models = {id(side): self._call_model_for(client, side.writer) for side in sides}
                breaker = _Breaker(self._wait_message, sides[-1].run_id)

                async def call(job: _Job) -> CallResult:
                    if job.follows is not None:
                        first = await job.follows
                        if first.error is None:
                            return dataclasses.replace(first, cached=True, retries=0)
                    leads = job.follows is None and job.cache_key is not None and job.cache_key in inflight
                    result = CallResult(output=None, error="not called")
                    try:
                        if (opened := breaker.open_for(job.model.name)) is not None:
                            result = CallResult(output=None, error=opened)
                        else:
                            result = await agent_loop(client, job)
                            breaker.record(job.model.name, result.error)
                        return result
                    finally:
                        if leads:
                            self._settle(inflight, job, result)

                async def worker() -> None:
                    while True:
                        job = await queue.get()
                        if job is None:
                            return
                        if stop.is_set():
                            result = CallResult(output=None, error="deadline exceeded before the call")
                        else:
                            result = await call(job)
                        assert job.side is not None
                        await self._finish(job, result, call_models[id(job.side)])

                async def produce() -> None:
                    # The next chunk is rendered and looked up while this one is dispatched.
                    ready: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
                    jobs = _interleave([self._jobs(side.plan, side.skip, side=side) for side in sides])
                    prepare = asyncio.create_task(self._prepare_chunks(jobs, ready))
                    try:
                        while (item := await ready.get()) is not None:
                            if isinstance(item, Exception):
                                raise item
                            await self._dispatch(item[0], item[1], queue, call_models, inflight)
                    finally:
                        prepare.cancel()
                    for _ in range(workers_n):
                        await queue.put(None)

                tasks = [asyncio.create_task(worker()) for _ in range(workers_n)]
                producer = asyncio.create_task(produce())
                ticker = asyncio.create_task(self._tick())
                try:
                    if deadline is not None:
                        remaining = max(0.0, deadline - time.monotonic())
                        await asyncio.wait([producer, *tasks], timeout=remaining, return_when=asyncio.ALL_COMPLETED)
                        if not all(t.done() for t in [producer, *tasks]):
                            stop.set()
                            await self._abort_on_deadline(producer, tasks, sides)
                    else:
                        await asyncio.gather(producer, *tasks)
                finally:
                    ticker.cancel()
                    for t in [producer, *tasks]:
                        if not t.done():
                            t.cancel()
        finally:
            for side in sides:
                if side.writer is not None:
                    side.writer.close()
            self._emit()

    async def _abort_on_deadline(
        self, producer: asyncio.Task[None], tasks: list[asyncio.Task[None]], sides: list[_Side]
    ) -> None:
        """Record every unfinished case as a deadline error, so each case has exactly one row."""
        producer.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(producer, *tasks, return_exceptions=True)
        for side in sides:
            for job in self._jobs(side.plan, side.skip | side.finished, render=False, side=side):
                await self._finish(job, CallResult(output=None, error="deadline exceeded"), None)

    async def _prepare_chunks(self, jobs: Iterator[_Job], ready: asyncio.Queue[Any]) -> None:
        """Render jobs in chunks and look each chunk up in the cache; hand (jobs, hits) to
        `ready`, then None (or the exception that stopped it). Chunks grow from 2 x concurrency
        to CHUNK, so the first calls start before the whole first CHUNK is rendered. The lookup
        runs in a thread: it may wait for the store while the writer holds it, and the event
        loop must keep serving the calls in flight meanwhile."""
        try:
            size = min(CHUNK, max(100, 2 * self.concurrency))
            batch: list[_Job] = []
            for job in jobs:
                batch.append(job)
                if len(batch) % 100 == 0:
                    await asyncio.sleep(0)  # rendering is CPU work: let finished calls through
                if len(batch) >= size:
                    await ready.put((batch, await self._cache_hits(batch)))
                    batch = []
                    size = min(CHUNK, 2 * size)
            if batch:
                await ready.put((batch, await self._cache_hits(batch)))
        except Exception as exc:  # a render or store error: the producer raises it
            await ready.put(exc)
            return
        await ready.put(None)

    async def _cache_hits(self, batch: list[_Job]) -> dict[str, dict[str, Any]]:
        keys = [j.cache_key for j in batch if j.cache_key is not None]
        if not keys:
            return {}
        hits: dict[str, dict[str, Any]] = await asyncio.to_thread(self.store.cache_get_many, keys)
        return hits

    async def _dispatch(
        self,
        batch: list[_Job],
        hits: dict[str, dict[str, Any]],
        queue: asyncio.Queue[Any],
        call_models: dict[int, Any],
        inflight: dict[str, asyncio.Future[CallResult]],
    ) -> None:
        for job in batch:
            hit = hits.get(job.cache_key) if job.cache_key else None
            if hit is not None:
                await self._finish(job, _cached_result(hit, job.model), call_models[id(job.side)])
                continue
            if job.cache_key is not None:
                leader = inflight.get(job.cache_key)
                if leader is not None:
                    job.follows = leader
                else:
                    inflight[job.cache_key] = asyncio.get_running_loop().create_future()
            await queue.put(job)

    @staticmethod
    def _settle(inflight: dict[str, asyncio.Future[CallResult]], job: _Job, result: CallResult) -> None:
        """Hand a leading call's result to the jobs that follow it; later ones call again."""
        assert job.cache_key is not None
        future = inflight.pop(job.cache_key, None)
        if future is not None and not future.done():
            future.set_result(result)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self._emit()

    # -- one evalset ------------------------------------------------------------------------

    def _open_side(
        self, plan: _Plan, *, role: str, baseline_run_id: str | None, ref: str | None, run_id: str | None = None
    ) -> _Side:
        """Create (or, with `run_id`, reopen for a resume) the stored run of one side of one evalset."""
        commit, branch = git_info(self.cfg.root)
        skip: set[str] = set()
        if run_id is None:
            run_id = self.store.create_run(
                evalset=plan.evalset.name,
                config={
                    "role": role,
                    "invocation": self.invocation,
                    "ref": ref or "WORKTREE",
                    "models": [m.name for m in plan.models],
                    "repeat": plan.repeat,
                    "prompts": {p.name: p.hash for p in plan.prompts},
                    "evalset_path": plan.evalset.path,
                    "no_cache": self.options.no_cache,
                    "shard": list(self.options.shard) if self.options.shard else None,
                    "limit": self.options.limit,
                    "cases": self.options.case_globs,
                    "rerun_failed": self.options.rerun_failed,
                    "baseline": self.options.baseline,
                    "concurrency": self.concurrency,
                    "fingerprint": plan.fingerprint,
                    "changed": plan.reasons,
                },
                git_commit=commit,
                git_branch=branch,
                baseline_run_id=baseline_run_id,
                shard=f"{self.options.shard[0]}/{self.options.shard[1]}" if self.options.shard else None,
            )
            self._lock_run(run_id)
        else:
            self._lock_run(run_id)  # before reading what is finished: one resume at a time
            skip = self.store.finished_keys(run_id)
        self.store.put_prompt_versions(
            [
                {
                    "version_hash": p.hash,
                    "prompt": p.name,
                    "path": p.path,
                    "content": p.to_dict(),
                    "git_commit": commit if ref is None else ref,
                }
                for p in plan.prompts
            ]
        )
        return _Side(plan=plan, run_id=run_id, role=role, skip=set(skip), finished=set(skip))

    def _run_sides(self, sides: list[_Side]) -> None:
        """Execute the sides of one evalset together (baseline and candidate interleaved in one
        pool); results are written as they finish."""
        if self._reserve is None:
            from llmctl.store._space import SpaceReserve

            self._reserve = SpaceReserve(self.store.path)
            self._reserve.hold()
        # Counters per evalset: one line with its own rate and ETA (both sides when compared).
        total = sum(
            len(s.plan.prompts) * len(s.plan.models) * len(s.plan.cases) * s.plan.repeat - len(s.skip) for s in sides
        )
        roles = " + ".join(s.role for s in sides)
        self.progress = Progress(total=max(total, 0), phase=f"{sides[0].plan.evalset.name} ({roles})")
        head = sides[-1]  # the candidate: resuming it resumes its baseline too
        try:
            asyncio.run(self._execute(sides, self._deadline))
        except KeyboardInterrupt:
            for side in sides:
                self.store.finish_run(side.run_id, "interrupted", {"interrupted": True})
            kept = sum(len(s.finished) for s in sides)
            raise Interrupted(
                "interrupted",
                hint=f"run {head.run_id} keeps its {kept} finished result(s); "
                f"finish it with: llmctl eval --resume {head.run_id}",
            ) from None
        except StoreIOError as exc:
            raise self._stopped_by_disk(exc, head.run_id, [s.run_id for s in sides]) from None
        except Exception as exc:
            # What finished is stored; the runs are marked so `--resume` can complete them.
            for side in sides:
                self.store.finish_run(side.run_id, "failed", {"error": str(exc)})
            raise

    def _lock_run(self, run_id: str) -> None:
        """Hold `run_id`'s lock until this eval ends; RunBusy when another process holds it."""
        if run_id not in self._run_locks:
            from llmctl.store._runlock import RunLock

            self._run_locks[run_id] = RunLock(self.store.path, run_id).acquire()

    def _stopped_by_disk(self, exc: StoreIOError, run_id: str, also: Iterable[str] = ()) -> StoreIOError:
        """The store's disk failed mid-run: free the reserve, mark the run interrupted, say how to resume."""
        if self._reserve is not None:
            self._reserve.release()
        try:
            for rid in dict.fromkeys([*also, run_id]):
                self.store.finish_run(rid, "interrupted", {"interrupted": True, "error": exc.message})
            state = "is marked interrupted"
        except Exception:
            state = "could not be marked interrupted (the disk is still full)"
        exc.run_id = run_id
        exc.hint = (
            f"run {run_id} keeps every result written before the failure and {state}; "
            f"free some space, then finish it with: llmctl eval --resume {run_id}"
        )
        return exc

    def _outcomes(self, run_id: str) -> list[CaseOutcome]:
        outcomes: list[CaseOutcome] = self.store.outcomes(run_id)
        return outcomes

    def _finalize(self, info: RunInfo, plan: _Plan, gate_cfg: GateConfig) -> None:
        from llmctl.calibrate import judge_gate
        from llmctl.gate import compare

        candidate = self._outcomes(info.run_id)
        baseline = self._outcomes(info.baseline_run_id) if info.baseline_run_id else None
        verdict = compare(baseline, candidate, gate_cfg)
        if info.reasons:
            verdict.notes.insert(0, "evaluated because: " + "; ".join(info.reasons))
        if baseline is not None:
            reused = sum(1 for o in baseline if o.cached)
            verdict.notes.append(
                f"baseline: {reused} of {len(baseline)} result(s) reused from the store, "
                f"{len(baseline) - reused} evaluated now"
            )
        judges = judge_gate(self.store, info.run_id, gate_cfg)
        if judges:
            verdict.metrics.extend(judges)
            if any(not m.passed for m in judges):
                verdict.passed = False
                verdict.notes.extend(m.note for m in judges if not m.passed)
        info.verdict = verdict
        info.errors = sorted({(o.prompt, o.model, o.case_id) for o in candidate if o.error})
        info.error_causes = error_causes(o.error for o in candidate if o.error)
        info.summary = summarize(candidate, verdict)
        status = "completed"
        try:
            self.store.finish_run(info.run_id, status, info.summary)
            if info.baseline_run_id:
                base_summary = summarize(baseline or [], None)
                self.store.finish_run(info.baseline_run_id, "completed", base_summary)
        except StoreIOError as exc:
            raise self._stopped_by_disk(exc, info.run_id) from None

    # -- entry point ------------------------------------------------------------------------

    def run(self) -> EvalOutcome:
        from llmctl import sandbox

        opts = self.options
        self._deadline = (time.monotonic() + opts.deadline) if opts.deadline else None
        try:
            # --deadline covers rendering too: a render still going at the deadline stops there.
            with sandbox.deadline(self._deadline):
                return self._run()
        finally:
            if self._reserve is not None:
                self._reserve.release()
            for lock in self._run_locks.values():
                lock.release()
            self._run_locks.clear()

    def _run(self) -> EvalOutcome:
        opts = self.options
        outcome = EvalOutcome()
        library = PromptLibrary(WorktreeSource(self.cfg.root), self.cfg.prompts_dir)
        if opts.resume:
            return self._resume(opts.resume)
        names = opts.evalsets or None
        if names is None and opts.rerun_failed is not None:
            names = [str(self.store.get_run(opts.rerun_failed).get("evalset"))]
        paths = find_evalsets(self.cfg.root, self.cfg.evalsets_dir, names)
        if not paths:
            raise InputError(f"no evalsets found in {self.cfg.evalsets_dir}/", hint="create one, or run llmctl init")
        evalsets = [load_evalset(p, self.cfg.root, self.cfg.evalsets_dir) for p in paths]
        plans = [(ev, self._plan(ev, library, opts.prompt_ref)) for ev in evalsets]
        if opts.case_globs or opts.rerun_failed is not None:
            plans = [(ev, plan) for ev, plan in plans if plan.cases]
            if not plans:
                what = (
                    f"no case failed in run {opts.rerun_failed}"
                    if opts.rerun_failed is not None and not opts.case_globs
                    else "no case matches the selection (--case/--rerun-failed)"
                )
                raise InputError(what, hint="`llmctl runs show RUN` lists a run's cases")
        base_plans: dict[str, _Plan] = {}
        if opts.baseline:
            from llmctl.release import resolve_all, source_at

            at_baseline = resolve_all(self.cfg, opts.baseline)  # an unknown ref is an error here
            try:
                base_source: Source | None = source_at(self.cfg, opts.baseline)
            except InputError:
                base_source = None  # a release or label: compare the prompts only
            if base_source is not None:
                self._base_cfg = _config_at(self.cfg, base_source)
            kept = []
            for ev, plan in plans:
                base_plan: _Plan | None = self._plan(ev, library, None, at_ref=at_baseline)
                if base_source is not None:
                    self._compare_fingerprints(ev, plan, base_plan, base_source)
                if base_plan is not None and not base_plan.prompts:
                    base_plan = None  # the prompts are new in this change: floors only
                if opts.changed_only and plan.reasons == []:
                    outcome.skipped.append(ev.name)
                    continue
                if base_plan is not None:
                    base_plans[ev.name] = base_plan
                kept.append((ev, plan))
            plans = kept
        if opts.dry_run:
            self._dry_run(plans, base_plans, outcome)
            return outcome
        # Evaluators are built and every case rendered (so a template that breaks or trips the
        # sandbox at render time is an input error) before any run is stored or any call is made.
        for ev, plan in plans:
            self._validate(plan)
            if ev.name in base_plans:
                self._validate(base_plans[ev.name])
        for ev, plan in plans:
            sides = []
            base_plan = base_plans.get(ev.name)
            if base_plan is not None:
                sides.append(self._open_side(base_plan, role="baseline", baseline_run_id=None, ref=opts.baseline))
            baseline_run_id = sides[0].run_id if sides else None
            sides.append(self._open_side(plan, role="candidate", baseline_run_id=baseline_run_id, ref=opts.prompt_ref))
            self._run_sides(sides)
            run_id = sides[-1].run_id
            info = RunInfo(
                run_id=run_id, evalset=ev.name, baseline_run_id=baseline_run_id, reasons=list(plan.reasons or [])
            )
            self._finalize(info, plan, self.cfg.gate.merged(ev.gate))
            outcome.runs.append(info)
        outcome.exit_code = exit_code_for(outcome)
        return outcome

    def _compare_fingerprints(self, ev: Evalset, plan: _Plan, base_plan: _Plan | None, base: Source) -> None:
        """Set `plan.fingerprint` and `plan.reasons` (what changed since the baseline ref)."""
        from llmctl import fingerprint as fpr

        names = fpr.model_names(ev, [m.name for m in plan.models], self.cfg)
        if base_plan is not None:
            names |= {m.name for m in base_plan.models}
        defaults = not self.options.models and not ev.models
        cand = fpr.fingerprint(
            self.cfg, WorktreeSource(self.cfg.root), ev, plan.prompts, names, uses_default_models=defaults
        )
        before = fpr.fingerprint(
            self.cfg, base, ev, base_plan.prompts if base_plan else [], names, uses_default_models=defaults
        )
        plan.fingerprint = fpr.digest(cand)
        plan.reasons = fpr.changes(before, cand)
        if base_plan is not None:
            base_plan.fingerprint = fpr.digest(before)

    def _dry_run(self, plans: list[tuple[Evalset, _Plan]], base_plans: dict[str, _Plan], outcome: EvalOutcome) -> None:
        """Render every case (errors are input errors), count the calls, estimate prompt tokens and cost."""
        from llmctl.models import estimate_tokens, price_for

        cost = 0.0
        for ev, plan in plans:
            sides = [plan] + ([base_plans[ev.name]] if ev.name in base_plans else [])
            calls = 0
            for side in sides:
                for job in self._jobs(side, set()):
                    calls += 1
                    tokens = estimate_tokens(job.messages)
                    outcome.dry_run_tokens += tokens
                    cost += tokens * price_for(job.model)[0]
            outcome.dry_run_by_evalset[ev.name] = calls
            outcome.dry_run_cases += calls
        outcome.dry_run_cost = cost

    def _validate(self, plan: _Plan) -> None:
        ev = plan.evalset
        for case in plan.cases:
            for prompt in plan.prompts:
                self._evaluators_for(prompt, [*ev.evaluators, *case.asserts])
                try:
                    render_case(ev, prompt, case)
                except DeadlineExceeded as exc:
                    raise DeadlineExceeded(
                        f"case {case.id!r}: {exc.message}",
                        file=exc.file,
                        line=exc.line,
                        hint="every case is rendered before the first call: nothing was called or stored",
                    ) from None
                except InputError as exc:
                    raise _case_error(exc, ev, prompt, case) from None

    def _resume(self, run_ref: str) -> EvalOutcome:
        run = self.store.get_run(run_ref)
        config = run.get("config") or {}
        if isinstance(config, str):
            config = json.loads(config)
        path = config.get("evalset_path")
        if not path:
            raise InputError(f"run {run['id']} has no evalset path recorded; cannot resume")
        ev = load_evalset(self.cfg.root / path, self.cfg.root, self.cfg.evalsets_dir)
        self.options.models = config.get("models") or self.options.models
        self.options.repeat = config.get("repeat") or self.options.repeat
        if config.get("shard"):
            self.options.shard = (int(config["shard"][0]), int(config["shard"][1]))
        self.invocation = str(config.get("invocation") or self.invocation)
        self.options.limit = config.get("limit")
        self.options.case_globs = config.get("cases")
        self.options.rerun_failed = config.get("rerun_failed")
        ref = config.get("ref")
        ref = None if ref in (None, "WORKTREE") else ref
        library = PromptLibrary(WorktreeSource(self.cfg.root), self.cfg.prompts_dir)
        plan = self._plan(ev, library, ref)
        recorded = config.get("prompts") or {}
        changed = [p.name for p in plan.prompts if recorded.get(p.name) not in (None, p.hash)]
        if changed:
            raise InputError(
                f"cannot resume run {run['id']}: prompt(s) {', '.join(changed)} changed since it started",
                hint="start a new run instead",
            )
        sides = []
        base_id = run.get("baseline_run_id")
        base_run = self.store.get_run(base_id) if base_id else None
        if base_run is not None and base_run.get("status") != "completed":
            # Interrupted while both sides ran interleaved: finish the baseline with it.
            sides.append(self._resumed_baseline(ev, library, base_run))
        self._lock_run(run["id"])
        for side_run in [*([base_run] if sides else []), run]:
            self.store.resume_run(side_run["id"])
        sides.append(
            self._open_side(
                plan,
                role=config.get("role", "candidate"),
                baseline_run_id=base_id,
                ref=ref,
                run_id=run["id"],
            )
        )
        self._run_sides(sides)
        info = RunInfo(run_id=run["id"], evalset=ev.name, baseline_run_id=run.get("baseline_run_id"))
        self._finalize(info, plan, self.cfg.gate.merged(ev.gate))
        outcome = EvalOutcome(runs=[info])
        outcome.exit_code = exit_code_for(outcome)
        return outcome

    def _resumed_baseline(self, ev: Evalset, library: PromptLibrary, base_run: dict[str, Any]) -> _Side:
        """The unfinished baseline run of a candidate being resumed, planned as it was started."""
        from llmctl.release import resolve_all, source_at

        config = base_run.get("config") or {}
        if isinstance(config, str):
            config = json.loads(config)
        ref = str(config.get("ref") or "")
        try:
            self._base_cfg = _config_at(self.cfg, source_at(self.cfg, ref))
        except InputError:
            self._base_cfg = None
        plan = self._plan(ev, library, None, at_ref=resolve_all(self.cfg, ref))
        recorded = config.get("prompts") or {}
        if {p.name: p.hash for p in plan.prompts} != recorded:
            raise InputError(
                f"cannot resume baseline run {base_run['id']}: the prompts at {ref} are not the ones it started with",
                hint="start a new run instead",
            )
        return self._open_side(plan, role="baseline", baseline_run_id=None, ref=ref, run_id=str(base_run["id"]))


def error_causes(errors: Iterable[str]) -> list[tuple[str, int]]:
    """Errors grouped by cause (their first line), most frequent first."""
    from collections import Counter

    counts = Counter((e.strip().splitlines() or [""])[0][:300] for e in errors)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def render_case(ev: Evalset, prompt: Prompt, case: Case) -> list[dict[str, Any]]:
    """`prompt` rendered with `case`'s vars; its image inputs are read relative to the evalset
    and stay inside the evalsets folder (llmctl.images)."""
    from llmctl.images import evalset_loader

    loader = None
    if prompt.image_inputs():
        line = case.metadata.get("_line")
        loader = evalset_loader(ev.root, ev.path, ev.scope, line=line, lines=case.metadata.get("_var_lines"))
    return prompt.render(case.vars, image_loader=loader)


def _case_error(exc: InputError, ev: Evalset, prompt: Prompt, case: Case) -> InputError:
    """A case's render failure at the case's line in the evalset (an error located in the
    evalset itself, such as a bad image path, keeps its own line)."""
    if exc.file == ev.path:
        return InputError(f"case {case.id!r}: {exc.message}", file=ev.path, line=exc.line, hint=exc.hint)
    return InputError(
        f"case {case.id!r}: {exc.message}",
        file=ev.path,
        line=case.metadata.get("_line"),
        hint=f"while rendering {_located(exc, prompt.path)}",
    )


def _located(exc: InputError, default: str) -> str:
    """`file:line` of a render error (the prompt or the included file it happened in)."""
    file = exc.file or default
    return f"{file}:{exc.line}" if exc.line else file


def exit_code_for(outcome: EvalOutcome) -> int:
    """3 when provider errors left cases without results, else 1 when a gate failed, else 0."""
    if any(info.errors for info in outcome.runs):
        return EXIT_INFRA
    if any(info.verdict is not None and not info.verdict.passed for info in outcome.runs):
        return EXIT_GATE_FAILED
    return EXIT_OK


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(outcomes: list[CaseOutcome], verdict: Any) -> dict[str, Any]:
    """Per prompt x model: pass rate with a 95% Wilson interval, mean scores, cost, latency, errors;
    and what the run spent and saved (`spend`, see llmctl.spend), per group and in total.

    `cost_usd_total` / `cost_usd_mean` are the results' cost at today's prices, cached ones
    included (what the gate compares); `spent_usd` is the model calls made in this run,
    `judge_usd` the evaluators' calls, `saved_usd` the cached results and judge calls."""
    from llmctl.spend import spend_of
    from llmctl.stats import wilson_interval

    groups: dict[tuple[str, str], list[CaseOutcome]] = {}
    for o in outcomes:
        groups.setdefault((o.prompt, o.model), []).append(o)
    rows = []
    for (prompt, model), items in sorted(groups.items()):
        ok = [o for o in items if not o.error]
        passed = sum(1 for o in ok if o.passed)
        lo, hi = wilson_interval(passed, len(ok)) if ok else (0.0, 0.0)
        scores: dict[str, list[float]] = {}
        for o in ok:
            for name, value in o.scores.items():
                if value is not None:
                    scores.setdefault(name, []).append(value)
        latencies = [o.latency_ms for o in ok]
        spend = spend_of(items)
        rows.append(
            {
                "prompt": prompt,
                "model": model,
                "version_hash": items[0].version_hash,
                "n": len(items),
                "passed": passed,
                "pass_rate": passed / len(ok) if ok else 0.0,
                "pass_rate_ci": [lo, hi],
                "scores": {k: sum(v) / len(v) for k, v in sorted(scores.items())},
                "cost_usd_total": sum(o.cost_usd for o in ok),
                "cost_usd_mean": (sum(o.cost_usd for o in ok) / len(ok)) if ok else 0.0,
                "latency_p50": _percentile(latencies, 0.5),
                "latency_p95": _percentile(latencies, 0.95),
                "cached": sum(1 for o in items if o.cached),
                "errors": len(items) - len(ok),
                "spent_usd": spend.model_usd,
                "judge_usd": spend.judge_usd,
                "saved_usd": spend.saved_usd,
            }
        )
    summary: dict[str, Any] = {
        "groups": rows,
        "errors": sum(r["errors"] for r in rows),
        "spend": spend_of(outcomes).to_dict(),
    }
    if verdict is not None:
        summary["gate_passed"] = bool(verdict.passed)
        summary["verdict"] = verdict.to_dict()
    return summary


def run_eval(cfg: Config, options: EvalOptions, listener: Listener | None = None) -> EvalOutcome:
    """Run `llmctl eval` as a library call."""
    return Runner(cfg, options, listener).run()
