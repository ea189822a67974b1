"""The pipeline of `llmctl eval`: every side's jobs through one pool of workers, scored and stored.

It streams: cases are rendered in chunks, the response cache is looked up per
chunk (one query), misses are fed to a pool of `concurrency` workers, and each
finished result is scored and handed to the store's background writer. Nothing
but the in-flight cases is held in memory. The sides of one evalset (baseline
and candidate) are interleaved, identical requests in flight are made once, a
circuit breaker stops calling a model that fails every time the same way, and
`--deadline` records what is left as errors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmctl.run import _limits
from llmctl.run._plan import Job, Planner, Side
from llmctl.safetext import strip_escapes
from llmctl.types import TOKEN_FIELDS, CallResult, Case, EvalInput, ModelSpec, ScoreResult, Usage

if TYPE_CHECKING:
    from llmctl.models import ModelClient
    from llmctl.store import JudgeCallRow, Store

CHUNK = 2000


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


def _interleave(iterators: list[Iterator[Job]]) -> Iterator[Job]:
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


def _cached_result(hit: dict[str, Any], spec: ModelSpec | None = None) -> CallResult:
    """A cache entry as a result: it keeps the latency of the call that produced it; its cost is
    its tokens at today's prices (the alias's `price:`, else litellm's cost map, with the cached
    prompt tokens, cache-written prompt tokens and reasoning tokens at their own rates), which the
    run reports as saved, not spent. An entry whose token counts are unknown keeps the cost it was stored with."""
    usage = Usage.of(hit)  # NULL stays unknown
    cost = float(hit.get("cost_usd") or 0.0)
    if spec is not None and usage.prompt_tokens is not None and usage.completion_tokens is not None:
        from llmctl.models import price_for
        from llmctl.models._cost import cost_usd

        cost = cost_usd(
            price_for(spec),
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.reasoning_tokens,
            usage.cache_write_tokens,
        )
    return CallResult(
        output=hit.get("output"),
        usage=usage,
        cost_usd=cost,
        latency_ms=float(hit.get("latency_ms") or 0.0),
        ttft_ms=hit.get("ttft_ms"),
        cached=True,
        tool_calls=_loads_calls(hit.get("tool_calls")),
        finish_reason=hit.get("finish_reason"),
        turns=_loads_calls(hit.get("turns")),
    )


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


async def agent_loop(client: ModelClient, job: Job) -> CallResult:
    """Call the model; while it calls tools the case has results for, feed them back and call
    again, up to the case's `max_turns` calls per user message; then each scripted user turn
    (`turns:`) is appended after the answer and the same runs again. The result is the last
    answer, with every tool call, the tokens, cost and latency summed, and each call as a turn."""
    case = job.case
    result: CallResult = await client.complete(job.model, job.messages, job.params, repeat_index=job.repeat_index)
    looping = case.max_turns > 1 and case.tool_results is not None
    if not looping and not case.turns:
        return dataclasses.replace(result, tool_calls=_limits.cap_calls(result.tool_calls))
    messages: Any = list(job.messages)  # with assistant tool calls and tool results (not only strings)
    turns: list[dict[str, Any]] = []
    all_calls: list[dict[str, Any]] = []
    totals = {"cost_usd": 0.0, "latency_ms": 0.0, "retries": 0}
    usage = Usage(0, 0)
    fed = 0
    user_turn = 0
    calls_this_turn = 0
    stopped: str | None = None  # the request grew past _limits.MAX_REQUEST
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
        usage += result.usage
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
        if (size := _limits.message_chars(messages)) > _limits.MAX_REQUEST:
            stopped = _limits.request_too_large(size, len(turns))
            break
        result = await client.complete(job.model, messages, job.params, repeat_index=job.repeat_index)
    if usage.prompt_tokens is None or usage.completion_tokens is None:
        # one call that did not report a count: neither total is known
        usage = dataclasses.replace(usage, prompt_tokens=None, completion_tokens=None)
    return CallResult(
        output=result.output,
        error=stopped or result.error,
        usage=usage,
        cost_usd=float(totals["cost_usd"]),
        latency_ms=float(totals["latency_ms"]),
        retries=int(totals["retries"]),
        tool_calls=_limits.cap_calls(all_calls) or None,
        finish_reason=result.finish_reason,
        turns=_limits.cap_turns(turns),
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


def _usage(result: CallResult) -> dict[str, Any]:
    """What a call used, as the cache's columns."""
    u = result.usage
    return {
        **{name: getattr(u, name) for name in TOKEN_FIELDS},
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
    }


def _cache_row(key: str, spec: ModelSpec, result: CallResult) -> dict[str, Any]:
    return {
        "key": key,
        "model": spec.litellm_id,
        "output": result.output,
        **_usage(result),
        "ttft_ms": result.ttft_ms,
        "tool_calls": result.tool_calls,
        "finish_reason": result.finish_reason,
        "turns": result.turns,
    }


def _judge_rows(evaluator: str, idx: int, calls: list[tuple[str, CallResult]]) -> list[JudgeCallRow]:
    """The judge_calls rows of one evaluator's model calls (`idx`: its score's position)."""
    # here, not at module level: importing llmctl.run must not load the store (duckdb, pyarrow)
    from llmctl.store._records import JudgeCallRow

    return [
        JudgeCallRow(
            evaluator=evaluator,
            model=model,
            idx=idx,
            call_index=i,
            usage=r.usage,
            cost_usd=r.cost_usd,
            latency_ms=r.latency_ms,
            cached=r.cached,
            error=r.error,
        )
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


class Pipeline:
    """Executes the sides of one evalset (a fresh instance per evalset).

    Collaborators: the store (writers, cache lookups), the planner (jobs, and the
    models judges call), the progress counters it updates, `emit` (show them),
    `say` (a warning line) and the monotonic `deadline` of the whole eval.
    """

    def __init__(
        self,
        store: Store,
        planner: Planner,
        *,
        concurrency: int,
        no_cache: bool,
        progress: Progress,
        emit: Callable[[], None],
        say: Callable[[str], None],
        deadline: float | None,
    ) -> None:
        self.store = store
        self.planner = planner
        self.concurrency = concurrency
        self.no_cache = no_cache
        self.progress = progress
        self.emit = emit
        self.say = say
        self.deadline = deadline

    async def execute(self, sides: list[Side]) -> None:
        """Run the sides' jobs through one pool of `concurrency` workers, interleaved.

        Two jobs of one invocation with the same cache key (an unchanged prompt on both sides)
        make one call: the second waits for the first and records its result as cached.
        """
        from llmctl.models import ModelClient

        deadline = self.deadline
        queue: asyncio.Queue[Job | None] = asyncio.Queue(maxsize=self.concurrency * 4)
        for side in sides:
            side.writer = self.store.writer(side.run_id)
        workers_n = self.concurrency
        stop = asyncio.Event()
        inflight: dict[str, asyncio.Future[CallResult]] = {}
        try:
            async with ModelClient(concurrency=self.concurrency) as client:
                call_models = {id(side): self._call_model_for(client, side.writer) for side in sides}
                breaker = _Breaker(self.say, sides[-1].run_id)

                async def call(job: Job) -> CallResult:
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
                    jobs = _interleave([self.planner.jobs(side.plan, side.skip, side=side) for side in sides])
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
            self.emit()

    async def _abort_on_deadline(
        self, producer: asyncio.Task[None], tasks: list[asyncio.Task[None]], sides: list[Side]
    ) -> None:
        """Record every unfinished case as a deadline error, so each case has exactly one row."""
        producer.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(producer, *tasks, return_exceptions=True)
        for side in sides:
            for job in self.planner.jobs(side.plan, side.skip | side.finished, render=False, side=side):
                await self._finish(job, CallResult(output=None, error="deadline exceeded"), None)

    async def _prepare_chunks(self, jobs: Iterator[Job], ready: asyncio.Queue[Any]) -> None:
        """Render jobs in chunks and look each chunk up in the cache; hand (jobs, hits) to
        `ready`, then None (or the exception that stopped it). Chunks grow from 2 x concurrency
        to CHUNK, so the first calls start before the whole first CHUNK is rendered. The lookup
        runs in a thread: it may wait for the store while the writer holds it, and the event
        loop must keep serving the calls in flight meanwhile."""
        try:
            size = min(CHUNK, max(100, 2 * self.concurrency))
            batch: list[Job] = []
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

    async def _cache_hits(self, batch: list[Job]) -> dict[str, dict[str, Any]]:
        keys = [j.cache_key for j in batch if j.cache_key is not None]
        if not keys:
            return {}
        hits: dict[str, dict[str, Any]] = await asyncio.to_thread(self.store.cache_get_many, keys)
        return hits

    async def _dispatch(
        self,
        batch: list[Job],
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
    def _settle(inflight: dict[str, asyncio.Future[CallResult]], job: Job, result: CallResult) -> None:
        """Hand a leading call's result to the jobs that follow it; later ones call again."""
        assert job.cache_key is not None
        future = inflight.pop(job.cache_key, None)
        if future is not None and not future.done():
            future.set_result(result)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.emit()

    def _score_inputs(self, job: Job, result: CallResult) -> EvalInput:
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
                spec = specs[name] = self.planner.resolve_models([name])[0]
            if spec.offline or self.no_cache:
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

    async def _finish(self, job: Job, result: CallResult, call_model: Any) -> None:
        from llmctl.evaluators import case_passed
        from llmctl.store._records import ResultRow, ScoreRow  # as in _judge_rows

        scores: list[tuple[Any, ScoreResult]] = []
        judge_rows: list[JudgeCallRow] = []
        counts: dict[str, int] = {}
        if result.error is None:
            inp = self._score_inputs(job, result)
            deadline = self.deadline
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
                    elif ev.offload:
                        sr = await ev.ascore_off_loop(inp)  # CPU-heavy: in a thread, the loop goes on
                    else:
                        sr = ev.score(inp)
                except Exception as exc:  # an evaluator bug must not lose the result
                    sr = ScoreResult(score=0.0, passed=False, error=f"{type(exc).__name__}: {exc}")
                judge_rows += _judge_rows(ev.name, len(scores), calls)
                scores.append((ev, sr))
        passed, score = case_passed([(ev.weight, sr) for ev, sr in scores], result.error)
        row = ResultRow(
            result_key=job.key,
            prompt=job.prompt.name,
            version_hash=job.prompt.hash,
            case_id=job.case.id,
            model=job.model.name,
            repeat_index=job.repeat_index,
            input=job.messages,
            expected=json.dumps(job.case.expected, ensure_ascii=False, default=str),
            output=result.output,
            error=result.error,
            usage=result.usage,
            cost_usd=result.cost_usd,
            latency_ms=result.latency_ms,
            ttft_ms=result.ttft_ms,
            cached=result.cached,
            retries=result.retries,
            tool_calls=result.tool_calls,
            finish_reason=result.finish_reason,
            turns=result.turns,
            passed=None if result.error else passed,
            score=None if result.error else score,
        )
        score_rows = [
            ScoreRow(
                evaluator=ev.name,
                config=ev.config,
                score=None if sr.unscored else sr.score,
                passed=None if sr.unscored else sr.passed,
                reason=sr.reason,
                error=sr.error,
            )
            for ev, sr in scores
        ]
        side = job.side
        assert side is not None and side.writer is not None
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
        elif passed is False:  # None: unscored (an unlabelled `human`), neither passed nor failed
            p.failed += 1
