"""The batch phase of a run: submit its uncached calls to the providers' batch APIs, wait, store.

`BatchPhase.run(sides)` runs before the pipeline (llmctl.run._pipeline) executes the
sides, and takes over the jobs it can batch:

1. Which jobs: those of a model that batches (`--batch`, or `batch: true` on its alias or
   on the evalset) that are not finished, not in the response cache and not agent loops or
   scripted conversations (those need one answer before the next request, so they say so
   once and run directly, like every cached job). A job already in a batch of this run that
   has not been collected is claimed, never submitted again.
2. Submit: per alias, the requests as JSONL (`custom_id` = the result key, the body exactly
   as the native transport would POST it), split at MAX_REQUESTS / MAX_BYTES, uploaded with
   `litellm.acreate_file` and started with `litellm.acreate_batch`; each batch and its
   requests are recorded in the store (llmctl.store._batches) the moment the provider accepts it.
3. Wait: `litellm.aretrieve_batch` every `poll` seconds, with a progress line (batches
   submitted / in progress / ended, requests answered, elapsed). `--no-wait` (and a
   `--deadline` that passes while waiting) stops here: the runs stay `submitted`.
4. Collect: `litellm.afile_content` of the output and error files; each answer is parsed
   like a direct call's (llmctl.models._response), priced at batch rates
   (llmctl.models._cost.batch_price_for), scrubbed, scored and stored by the pipeline's own
   `_finish` (same rows, same cache writes). Judge calls of judges that batch are gathered
   while the results are scored and sent as a second batch per judge alias (one round per
   judge evaluator in a case); a judge that cannot batch is called directly.
   A failed request (error file), and every request an expired, cancelled or failed batch did
   not answer, is stored as that case's error with the reason; `--resume` retries only those.
   A batch is marked collected only after its results are written.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmctl import fmt
from llmctl.batch import MAX_BYTES, MAX_REQUESTS, batch_refusal
from llmctl.errors import InfraError, InputError
from llmctl.run._plan import Job, Side
from llmctl.safetext import strip_escapes
from llmctl.store import _batches as bstore
from llmctl.types import DEFAULT_CONCURRENCY, CallResult, ModelSpec

if TYPE_CHECKING:
    from llmctl.models._cost import Price
    from llmctl.models._transport import Route

FINAL = frozenset({"completed", "failed", "expired", "cancelled"})
ENDPOINT = "/v1/chat/completions"
_RETRIEVE_TRIES = 5  # a batch that cannot be looked up this many times in a row stops the wait
_DOWNLOAD_TRIES = 3  # an output or error file is downloaded again after a failure (it is idempotent)
_MIN_BATCH_TIMEOUT_S = 5.0  # httpx's timeout is per read or write, so this does not cap an upload's length


def is_loop(job: Job) -> bool:
    """An agent loop or a scripted conversation: it needs each answer before the next request."""
    case = job.case
    return (case.max_turns > 1 and case.tool_results is not None) or bool(case.turns)


def wants_batch(spec: ModelSpec, evalset_batch: bool, flag: bool) -> bool:
    """Whether `spec`'s calls go through a batch API (it can be batched, and something asks it)."""
    return (flag or evalset_batch or spec.batch) and batch_refusal(
        spec.litellm_id, bool(spec.deployments or spec.fallbacks)
    ) is None


@dataclass
class _Endpoint:
    """How litellm reaches one model's batch API, and how its answers are read."""

    spec: ModelSpec
    provider: str
    model: str  # the model name the endpoint expects
    api_base: str
    route: Route  # its key, for scrubbing; its price, batch rates
    price: Price  # at batch rates
    price_source: str

    @property
    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "custom_llm_provider": self.provider,
            "api_base": self.api_base,
            "api_key": self.route.api_key or "none",  # a local server without a key still needs one
            # the alias's timeout, not litellm's 10 minutes: a batch API call that hangs is retried
            # (lookups, downloads) or ends the run with --resume to go on, instead of stalling it
            "timeout": max(float(self.spec.timeout), _MIN_BATCH_TIMEOUT_S),
        }
        if self.spec.headers:
            out["extra_headers"] = dict(self.spec.headers)
        return out


def endpoint_for(spec: ModelSpec) -> _Endpoint:
    """The batch endpoint of `spec` (InputError when it has no api_base to send batches to)."""
    from llmctl.models._cost import batch_price_for
    from llmctl.models._credentials import env_first, model_key, split_credentials
    from llmctl.models._providers import NATIVE
    from llmctl.models._transport import Route

    provider, _, model = spec.litellm_id.partition("/")
    default_base, base_env, key_env = NATIVE[provider]
    api_base = spec.api_base or env_first(base_env) or default_base
    if not api_base:
        raise InputError(
            f"model {spec.name!r}: no api_base to send its batches to",
            hint=f"set api_base on the alias (or {' / '.join(base_env)})",
        )
    api_base, basic = split_credentials(api_base)
    api_key, names = model_key(spec, key_env)
    if basic and not api_key:
        raise InputError(f"model {spec.name!r}: batches need an API key, not credentials in the api_base URL")
    price, source = batch_price_for(spec)
    route = Route(kind="native", provider=provider, model=model, api_key=api_key, key_env=names, price=price)
    return _Endpoint(spec, provider, model, api_base.rstrip("/"), route, price, source)


def request_body(endpoint: _Endpoint, messages: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The request body of one call, as the native transport would POST it (never streamed)."""
    from llmctl.models._native import _NOT_BODY

    body: dict[str, Any] = {"model": endpoint.model, "messages": messages}
    merged = {**endpoint.spec.params, **params}
    for key, value in merged.items():
        if key not in _NOT_BODY:
            body[key] = value
    if merged.get("extra_body"):
        body.update(merged["extra_body"])
    return body


def split_lines(
    lines: list[bytes], max_requests: int | None = None, max_bytes: int | None = None
) -> Iterator[list[bytes]]:
    """JSONL lines in files of at most `max_requests` lines and `max_bytes` bytes (default: the
    provider's limits, MAX_REQUESTS and MAX_BYTES)."""
    max_requests = MAX_REQUESTS if max_requests is None else max_requests
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        if len(line) + 1 > max_bytes:
            raise InputError(f"one batch request is {len(line)} bytes, more than a batch file may hold ({max_bytes})")
        if chunk and (len(chunk) >= max_requests or size + len(line) + 1 > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        yield chunk


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _answered(line: dict[str, Any] | None) -> bool:
    """Whether an output or error file line is a 200 answer."""
    response = line.get("response") if isinstance(line, dict) else None
    return isinstance(response, dict) and response.get("status_code") == 200


def _reason(batch: Any, status: str) -> str:
    """Why a batch ended without answering everything (from its `errors`, else its status)."""
    errors = _field(batch, "errors")
    data = _field(errors, "data") if errors is not None else None
    if isinstance(data, list) and data:
        first = data[0]
        message = str(_field(first, "message") or _field(first, "code") or "")
        line = _field(first, "line")
        return f"{status}: {message}" + (f" (input line {line})" if line else "")
    return {
        "expired": "expired: the completion window ended before it was done",
        "cancelled": "cancelled",
        "failed": "failed",
    }.get(status, status)


@dataclass
class EndedBatch:
    """A batch that ended without answering all its requests (expired, cancelled, failed)."""

    run_id: str
    batch_id: str
    model: str
    status: str
    reason: str
    unanswered: int


@dataclass
class _Tracked:
    """A batch being waited on: its stored row and what to do with its answers."""

    row: dict[str, Any]
    on_final: Callable[[_Tracked, Any], Awaitable[None]]
    failures: int = 0
    batch: Any = None  # the provider's batch object, last seen


@dataclass
class BatchPhase:
    """Runs the batch phase of one evalset's sides (see the module docstring)."""

    store: Any
    planner: Any  # llmctl.run._plan.Planner
    pipeline: Any  # llmctl.run._pipeline.Pipeline: `_finish` scores and stores, `_call_model_for` calls judges
    flag: bool = False  # --batch
    no_wait: bool = False
    no_cache: bool = False
    resume: bool = False  # a resumed run: look for batches the provider has that the store missed
    poll: float = 15.0
    concurrency: int = DEFAULT_CONCURRENCY
    say: Callable[[str], None] = print
    deadline: float | None = None
    submitted: list[tuple[str, str, str, str, int]] = field(default_factory=list)  # run, batch, model, purpose, n
    pending: dict[str, int] = field(default_factory=dict)  # run id -> requests still in flight
    ended: list[EndedBatch] = field(default_factory=list)
    batched_results: int = 0
    price_sources: dict[str, str] = field(default_factory=dict)  # model -> litellm | price | half
    _client: Any = None  # llmctl.models.ModelClient while the phase runs
    _claimed: dict[str, set[str]] = field(default_factory=dict)  # run id -> result keys the phase took
    _leaders: dict[str, Job] = field(default_factory=dict)  # cache key -> the job whose request is batched
    _followers: dict[str, list[Job]] = field(default_factory=dict)  # cache key -> identical jobs waiting on it
    _endpoints: dict[str, _Endpoint] = field(default_factory=dict)
    _tracked: list[_Tracked] = field(default_factory=list)
    _to_mark: list[tuple[str, str]] = field(default_factory=list)  # (run, batch) collected once written
    _started: float = field(default_factory=time.monotonic)
    _last_line: tuple[Any, ...] | None = None
    _last_said: float = 0.0

    # -- entry ---------------------------------------------------------------------------------

    async def run(self, sides: list[Side]) -> None:
        from llmctl.models import ModelClient
        from llmctl.models._litellm import import_litellm

        stored = {side.run_id: bstore.batches_of(self.store, side.run_id, uncollected=True) for side in sides}
        wanted = {
            id(side): {m.name for m in side.plan.models if wants_batch(m, side.plan.evalset.batch, self.flag)}
            for side in sides
        }
        self._note_direct(sides)
        if not any(wanted.values()) and not any(stored.values()):
            return
        await asyncio.to_thread(import_litellm)
        for side in sides:
            side.writer = self.store.writer(side.run_id)
        try:
            async with ModelClient(concurrency=self.concurrency) as client:
                self._client = client
                for side in sides:
                    await self._side(side, wanted[id(side)], stored[side.run_id])
                await self._wait()
            for side in sides:  # the progress line counts what is still in a batch as not to be done now
                left = len(self._claimed.get(side.run_id, set()) - side.finished)
                self.pipeline.progress.total = max(0, self.pipeline.progress.total - left)
        finally:
            for side in sides:
                if side.writer is not None:
                    side.writer.close()
                    side.writer = None
        for run_id, batch_id in self._to_mark:
            bstore.update_batch(self.store, run_id, batch_id, collected=True)

    def _note_direct(self, sides: list[Side]) -> None:
        """Say once per model why `--batch` sends its calls directly."""
        if not self.flag:
            return
        seen: set[str] = set()
        for side in sides:
            for m in side.plan.models:
                refusal = batch_refusal(m.litellm_id, bool(m.deployments or m.fallbacks))
                if refusal is not None and m.name not in seen:
                    seen.add(m.name)
                    self.say(f"note: model {strip_escapes(m.name)} is called directly, not batched: {refusal}")

    def endpoint(self, spec: ModelSpec) -> _Endpoint:
        ep = self._endpoints.get(spec.name)
        if ep is None:
            ep = self._endpoints[spec.name] = endpoint_for(spec)
            self.price_sources[spec.name] = ep.price_source
        return ep

    # -- one side: claim, submit, track ----------------------------------------------------------

    async def _side(self, side: Side, wanted: set[str], stored: list[dict[str, Any]]) -> None:
        if self.resume and wanted:
            stored = stored + await self._adopt(side, wanted)
        inflight: dict[str, dict[str, Any]] = {}  # custom id -> its uncollected batch row (cases)
        for row in stored:
            if row["purpose"] != "cases":
                continue
            for cid, state in bstore.requests_of(self.store, side.run_id, row["batch_id"]).items():
                if state == "pending":
                    inflight[cid] = row
        claimed: dict[str, Job] = {}
        fresh: dict[str, list[Job]] = {}
        loops = 0
        chunk: list[Job] = []

        async def settle(jobs: list[Job]) -> None:
            keys = [j.cache_key for j in jobs if j.cache_key is not None]
            hits = await asyncio.to_thread(self.store.cache_get_many, keys) if keys and not self.no_cache else {}
            for job in jobs:
                if job.cache_key is not None and job.cache_key in hits:
                    continue  # the pipeline serves it from the cache
                claimed[job.key] = job
                if self._lead(job):
                    fresh.setdefault(job.model.name, []).append(job)

        for job in self.planner.jobs(side.plan, side.skip, side=side):
            if job.key in inflight:
                claimed[job.key] = job
                self._lead(job)
                continue
            if job.model.name not in wanted:
                continue
            if is_loop(job):
                loops += 1
                continue
            chunk.append(job)
            if len(chunk) >= 2000:
                await settle(chunk)
                chunk = []
        if chunk:
            await settle(chunk)
        if loops:
            self.say(
                f"note: {loops} call(s) of agent loops or multi-turn conversations cannot be batched "
                "(each turn needs the answer before it); they run directly"
            )
        for row in stored:  # batches of an earlier invocation: collect when they end
            if row["purpose"] == "cases":
                self._track(row, self._case_collector(side, claimed))
        for jobs in fresh.values():
            await self._submit_cases(side, jobs, claimed)
        # the pipeline leaves every claimed job alone: answered here, or still in a batch
        side.skip |= set(claimed)
        self._claimed[side.run_id] = set(claimed)

    def _lead(self, job: Job) -> bool:
        """Whether `job` leads its request (True), or follows an identical request already in a batch
        of this invocation (the other side's unchanged prompt): it then takes that answer, as cached."""
        if job.cache_key is None:
            return True
        if job.cache_key in self._leaders:
            self._followers.setdefault(job.cache_key, []).append(job)
            return False
        self._leaders[job.cache_key] = job
        return True

    async def _adopt(self, side: Side, wanted: set[str]) -> list[dict[str, Any]]:
        """Batches of this run the provider accepted but the store never recorded (the process died
        between the two): found by their `llmctl_run` metadata and recorded from their input file, so a
        resume waits for them instead of submitting their requests again."""
        import litellm

        known = {row["batch_id"] for row in bstore.batches_of(self.store, side.run_id)}
        adopted: list[dict[str, Any]] = []
        for spec in side.plan.models:
            if spec.name not in wanted:
                continue
            ep = self.endpoint(spec)
            try:
                page = await litellm.alist_batches(limit=100, **ep.kwargs)
            except Exception as exc:
                self.say(
                    f"note: {self._infra(f'could not list the batches of {strip_escapes(spec.name)}', exc).message}"
                )
                continue  # nothing to adopt from a provider that cannot list its batches
            for batch in _field(page, "data") or []:
                meta = _field(batch, "metadata") or {}
                bid = str(_field(batch, "id") or "")
                if not bid or bid in known or _field(meta, "llmctl_run") != side.run_id:
                    continue
                if _field(meta, "llmctl_purpose") != "cases" or _field(meta, "llmctl_model") != spec.name:
                    continue
                ids = list(await self._lines(ep, _field(batch, "input_file_id")))
                row = {
                    "run_id": side.run_id,
                    "batch_id": bid,
                    "model": spec.name,
                    "purpose": "cases",
                    "provider": ep.provider,
                    "input_file_id": str(_field(batch, "input_file_id") or ""),
                    "requests": len(ids),
                    "status": str(_field(batch, "status") or "validating"),
                }
                bstore.add_batch(self.store, row, ids)
                known.add(bid)
                self.say(
                    f"note: batch {strip_escapes(bid)} of run {side.run_id} was submitted but not recorded; "
                    "collecting it"
                )
                adopted.append({**row, "collected": False})
        return adopted

    async def _submit_cases(self, side: Side, jobs: list[Job], claimed: dict[str, Job]) -> None:
        spec = jobs[0].model
        ep = self.endpoint(spec)
        lines = [
            json.dumps(
                {"custom_id": j.key, "method": "POST", "url": ENDPOINT, "body": request_body(ep, j.messages, j.params)},
                ensure_ascii=False,
                separators=(",", ":"),
                default=str,
            ).encode()
            for j in jobs
        ]
        for part in split_lines(lines):
            ids = [json.loads(line)["custom_id"] for line in part]
            row = await self._submit(side.run_id, ep, "cases", part, ids)
            self._track(row, self._case_collector(side, claimed))

    async def _submit(
        self, run_id: str, ep: _Endpoint, purpose: str, lines: list[bytes], ids: list[str]
    ) -> dict[str, Any]:
        """Upload one JSONL file, start its batch, record both; the stored row."""
        import litellm

        data = b"\n".join(lines) + b"\n"
        try:
            uploaded = await litellm.acreate_file(
                file=(f"llmctl-{run_id}-{purpose}.jsonl", data, "application/jsonl"), purpose="batch", **ep.kwargs
            )
            batch = await litellm.acreate_batch(
                completion_window="24h",
                endpoint=ENDPOINT,
                input_file_id=uploaded.id,
                metadata={"llmctl_run": run_id, "llmctl_purpose": purpose, "llmctl_model": ep.spec.name[:512]},
                **ep.kwargs,
            )
        except Exception as exc:
            raise self._infra(f"could not submit a batch of {len(ids)} request(s) for {ep.spec.name}", exc) from None
        row = {
            "run_id": run_id,
            "batch_id": str(batch.id),
            "model": ep.spec.name,
            "purpose": purpose,
            "provider": ep.provider,
            "input_file_id": str(uploaded.id),
            "requests": len(ids),
            "status": str(_field(batch, "status") or "validating"),
        }
        bstore.add_batch(self.store, row, ids)
        self.submitted.append((run_id, str(row["batch_id"]), ep.spec.name, purpose, len(ids)))
        return {**row, "collected": False}

    def _infra(self, what: str, exc: BaseException) -> InfraError:
        from llmctl.models import scrub

        detail = scrub(" ".join(str(exc).split())[:300])
        return InfraError(
            f"{what}: {type(exc).__name__}: {detail}", hint="the run keeps what finished; retry with --resume"
        )

    # -- waiting ------------------------------------------------------------------------------

    def _track(self, row: dict[str, Any], on_final: Callable[[_Tracked, Any], Awaitable[None]]) -> _Tracked:
        tracked = _Tracked(row=row, on_final=on_final)
        self._tracked.append(tracked)
        return tracked

    async def _wait(self, only: list[_Tracked] | None = None) -> None:
        """Poll the tracked batches (or `only` those) until each has ended and been collected.
        With `no_wait` (or past the deadline) one look only: what is still going stays pending."""
        import litellm

        while True:
            live = [t for t in (only if only is not None else self._tracked) if t.row.get("_done") is not True]
            if not live:
                break
            for t in live:
                try:
                    batch = await litellm.aretrieve_batch(
                        batch_id=t.row["batch_id"], **self.endpoint_by_name(t.row["model"]).kwargs
                    )
                except Exception as exc:
                    t.failures += 1
                    if t.failures >= _RETRIEVE_TRIES:
                        raise self._infra(f"could not look up batch {t.row['batch_id']}", exc) from None
                    continue
                t.failures = 0
                t.batch = batch
                status = str(_field(batch, "status") or "")
                if status != t.row["status"]:
                    t.row["status"] = status
                    bstore.update_batch(self.store, t.row["run_id"], t.row["batch_id"], status=status)
                if status in FINAL:
                    await t.on_final(t, batch)
                    t.row["_done"] = True
            self._progress(only if only is not None else self._tracked)
            live = [t for t in (only if only is not None else self._tracked) if t.row.get("_done") is not True]
            if not live:
                break
            stop = self.no_wait or (self.deadline is not None and time.monotonic() + self.poll >= self.deadline)
            if stop and only is None:
                for t in live:
                    self.pending[t.row["run_id"]] = self.pending.get(t.row["run_id"], 0) + int(t.row["requests"] or 0)
                return
            await asyncio.sleep(self.poll)

    def endpoint_by_name(self, name: str) -> _Endpoint:
        ep = self._endpoints.get(name)
        if ep is None:
            spec = self.planner.resolve_models([name])[0]
            ep = self.endpoint(spec)
        return ep

    def _progress(self, tracked: list[_Tracked]) -> None:
        """One line: batches submitted (validating) / in progress / ended, requests answered, elapsed."""
        states = {"submitted": 0, "in progress": 0, "completed": 0, "ended otherwise": 0}
        total = done = failed = 0
        for t in tracked:
            status = t.row["status"]
            key = {"validating": "submitted", "in_progress": "in progress", "finalizing": "in progress"}.get(
                status, "completed" if status == "completed" else "ended otherwise" if status in FINAL else "submitted"
            )
            states[key] += 1
            counts = _field(t.batch, "request_counts") if t.batch is not None else None
            total += (
                int(_field(counts, "total") or t.row["requests"] or 0)
                if counts is not None
                else int(t.row["requests"] or 0)
            )
            done += int(_field(counts, "completed") or 0) if counts is not None else 0
            failed += int(_field(counts, "failed") or 0) if counts is not None else 0
        line = (
            states["submitted"],
            states["in progress"],
            states["completed"],
            states["ended otherwise"],
            done,
            failed,
        )
        now = time.monotonic()
        if line == self._last_line and now - self._last_said < 30:
            return
        self._last_line, self._last_said = line, now
        other = f", {states['ended otherwise']} ended otherwise" if states["ended otherwise"] else ""
        self.say(
            f"[batch] {states['submitted']} submitted, {states['in progress']} in progress, "
            f"{states['completed']} completed{other}; requests {done}/{total} answered, {failed} failed; "
            f"elapsed {fmt.duration(now - self._started)}"
        )

    # -- collecting ---------------------------------------------------------------------------

    async def _lines(self, ep: _Endpoint, file_id: Any) -> dict[str, dict[str, Any]]:
        """custom id -> line of an output or error file (lines that are not JSON objects are skipped)."""
        import litellm

        if not file_id:
            return {}
        for attempt in range(1, _DOWNLOAD_TRIES + 1):
            try:
                content = await litellm.afile_content(file_id=str(file_id), **ep.kwargs)
                break
            except Exception as exc:
                if attempt == _DOWNLOAD_TRIES:
                    raise self._infra(f"could not download batch file {file_id}", exc) from None
                await asyncio.sleep(min(self.poll, 1.0) * attempt)
        raw = getattr(content, "content", content)
        text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
        out: dict[str, dict[str, Any]] = {}
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and isinstance(item.get("custom_id"), str):
                out.setdefault(item["custom_id"], item)
        return out

    def result_of(self, ep: _Endpoint, messages: Any, line: dict[str, Any] | None, ended: str) -> CallResult:
        """One answered (or failed) request line as a CallResult, priced at batch rates."""
        from llmctl.models._errors import AttemptError
        from llmctl.models._response import error_message, parse_completion

        scrub_text = self._client._scrubber(ep.route)
        if line is None:
            return CallResult(output=None, error=scrub_text(f"batch {ended} without an answer for this request"))
        response = line.get("response")
        status = _field(response, "status_code") if isinstance(response, dict) else None
        body = response.get("body") if isinstance(response, dict) else None
        if status == 200 and isinstance(body, dict):
            try:
                completion = parse_completion(body, provider=ep.provider)
            except AttemptError as exc:
                return CallResult(output=None, error=scrub_text(f"batch answer: {exc.message}"))
            completion.price = ep.price
            result: CallResult = self._client._result(ep.spec, ep.route, messages, completion, 0.0, 0, scrub_text)
            return result
        error = line.get("error")
        if not error and isinstance(body, dict):
            error = body.get("error")
        code = f"HTTP {status}: " if isinstance(status, int) else ""
        text = error_message(error) if error else "no answer"
        kind = _field(error, "code") if isinstance(error, dict) else None
        prefix = f"batch request failed ({kind}): " if kind and not code else "batch request failed: "
        return CallResult(output=None, error=scrub_text(prefix + code + text))

    def _case_collector(self, side: Side, claimed: dict[str, Job]) -> Callable[[_Tracked, Any], Awaitable[None]]:
        async def on_final(t: _Tracked, batch: Any) -> None:
            row = t.row
            ep = self.endpoint_by_name(row["model"])
            status = row["status"]
            lines = await self._lines(ep, _field(batch, "output_file_id"))
            lines.update(
                {k: v for k, v in (await self._lines(ep, _field(batch, "error_file_id"))).items() if k not in lines}
            )
            keys = bstore.requests_of(self.store, row["run_id"], row["batch_id"])
            items: list[tuple[Job, CallResult]] = []
            states: dict[str, str] = {}
            unanswered = 0
            for key in keys:
                job = claimed.get(key)
                if job is None or key in side.finished:
                    states[key] = "done" if key in side.finished else "failed"
                    continue
                line = lines.get(key)
                result = self.result_of(ep, job.messages, line, status)
                if result.error is not None:
                    unanswered += 1
                states[key] = "done" if result.error is None else "failed"
                items.append((job, result))
            self.batched_results += sum(1 for _, r in items if r.error is None)
            await self._score(side, items)
            follow: dict[int, tuple[Side, list[tuple[Job, CallResult]]]] = {}
            for job, result in items:
                for other in self._followers.pop(job.cache_key or "", []):
                    if other.side is None or other.key in other.side.finished:
                        continue
                    copy = dataclasses.replace(result, cached=True) if result.error is None else result
                    follow.setdefault(id(other.side), (other.side, []))[1].append((other, copy))
            for other_side, other_items in follow.values():
                await self._score(other_side, other_items)
            bstore.update_batch(
                self.store,
                row["run_id"],
                row["batch_id"],
                output_file_id=_field(batch, "output_file_id"),
                error_file_id=_field(batch, "error_file_id"),
                reason=None if status == "completed" else _reason(batch, status),
            )
            bstore.set_request_states(self.store, row["run_id"], row["batch_id"], states)
            if status != "completed":
                self.ended.append(
                    EndedBatch(row["run_id"], row["batch_id"], row["model"], status, _reason(batch, status), unanswered)
                )
            self._to_mark.append((row["run_id"], row["batch_id"]))

        return on_final

    async def _score(self, side: Side, items: list[tuple[Job, CallResult]]) -> None:
        """Score and store `items` through the pipeline; judge calls of judges that batch go out
        together as one batch per judge alias whenever every scoring task waits for one."""
        direct = self.pipeline._call_model_for(self._client, side.writer)
        judges = _JudgeBatcher(self, side, direct)
        tasks = [asyncio.create_task(self.pipeline._finish(job, result, judges.call_model)) for job, result in items]
        try:
            while True:
                alive = [t for t in tasks if not t.done()]
                if not alive:
                    break
                if judges.waiting() and judges.waiting() >= len(alive):
                    await judges.flush()
                    continue
                await asyncio.wait(alive, timeout=0.02, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
        for t in tasks:
            t.result()


class _JudgeBatcher:
    """The `call_model` of evaluators while batch results are scored: a judge call of a model that
    batches waits for the next judge batch (identical requests share one line); others go direct."""

    def __init__(self, phase: BatchPhase, side: Side, direct: Callable[..., Awaitable[CallResult]]) -> None:
        self.phase = phase
        self.side = side
        self.direct = direct
        self._specs: dict[str, ModelSpec] = {}
        self._pending: dict[str, tuple[ModelSpec, Any, list[asyncio.Future[CallResult]]]] = {}
        self._known: dict[str, dict[str, Any]] | None = None  # judge requests of earlier batches of this run

    def waiting(self) -> int:
        return sum(1 for _, _, futs in self._pending.values() for f in futs if not f.done())

    def _spec(self, name: str) -> ModelSpec:
        spec = self._specs.get(name)
        if spec is None:
            spec = self._specs[name] = self.phase.planner.resolve_models([name])[0]
        return spec

    async def call_model(
        self,
        name: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        *,
        _counts: dict[str, int],
        _lookup: bool,
        _record: list[tuple[str, CallResult]] | None = None,
    ) -> CallResult:
        from llmctl.models import cache_key
        from llmctl.run._pipeline import _cached_result

        spec = self._spec(name)
        if self.phase.no_cache or not wants_batch(spec, self.side.plan.evalset.batch, self.phase.flag):
            result: CallResult = await self.direct(
                name, messages, params, _counts=_counts, _lookup=_lookup, _record=_record
            )
            return result
        first = cache_key(spec, messages, params, 0)
        sample = _counts.get(first, 0)
        _counts[first] = sample + 1
        key = first if sample == 0 else cache_key(spec, messages, params, sample)
        hit = None
        if _lookup:
            hits = await asyncio.to_thread(self.phase.store.cache_get_many, [key])
            hit = hits.get(key)
        if hit is not None:
            result = _cached_result(hit, spec)
        else:
            future: asyncio.Future[CallResult] = asyncio.get_running_loop().create_future()
            entry = self._pending.setdefault(key, (spec, (messages, {**params}), []))
            entry[2].append(future)
            result = await future
        if _record is not None:
            _record.append((name, result))
        return result

    async def flush(self) -> None:
        """Send the gathered judge requests (one batch per judge alias; a request already in an
        uncollected judge batch of this run is waited for there, not sent again) and answer them."""
        from llmctl.run._pipeline import _cache_row

        phase = self.phase
        pending, self._pending = self._pending, {}
        run_id = self.side.run_id
        if self._known is None:
            self._known = {}
            for row in bstore.batches_of(phase.store, run_id, uncollected=True):
                if row["purpose"] == "judge":
                    for cid, state in bstore.requests_of(phase.store, run_id, str(row["batch_id"])).items():
                        if state == "pending":
                            self._known[cid] = row
        answers: dict[str, tuple[dict[str, Any] | None, str]] = {}
        rows: dict[str, dict[str, Any]] = {}
        by_model: dict[str, list[str]] = {}
        for key, (spec, _, _) in pending.items():
            known = self._known.get(key)
            if known is not None:
                rows[known["batch_id"]] = known
            else:
                by_model.setdefault(spec.name, []).append(key)
        for keys in by_model.values():
            ep = phase.endpoint(pending[keys[0]][0])
            lines = [
                json.dumps(
                    {
                        "custom_id": key,
                        "method": "POST",
                        "url": ENDPOINT,
                        "body": request_body(ep, pending[key][1][0], pending[key][1][1]),
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                    default=str,
                ).encode()
                for key in keys
            ]
            for part in split_lines(lines):
                ids = [json.loads(line)["custom_id"] for line in part]
                row = await phase._submit(run_id, ep, "judge", part, ids)
                rows[str(row["batch_id"])] = row
                for cid in ids:
                    self._known[cid] = row

        async def on_final(t: _Tracked, batch: Any) -> None:
            ep = phase.endpoint_by_name(t.row["model"])
            lines = await phase._lines(ep, _field(batch, "output_file_id"))
            lines.update(
                {k: v for k, v in (await phase._lines(ep, _field(batch, "error_file_id"))).items() if k not in lines}
            )
            for key in bstore.requests_of(phase.store, run_id, t.row["batch_id"]):
                answers[key] = (lines.get(key), t.row["status"])
            if t.row["status"] != "completed":
                known = self._known or {}
                unanswered = sum(1 for k in pending if known.get(k) is t.row and not _answered(lines.get(k)))
                phase.ended.append(
                    EndedBatch(
                        run_id,
                        t.row["batch_id"],
                        t.row["model"],
                        t.row["status"],
                        _reason(batch, t.row["status"]),
                        unanswered,
                    )
                )
            bstore.update_batch(
                phase.store,
                run_id,
                t.row["batch_id"],
                output_file_id=_field(batch, "output_file_id"),
                error_file_id=_field(batch, "error_file_id"),
                reason=None if t.row["status"] == "completed" else _reason(batch, t.row["status"]),
            )
            phase._to_mark.append((run_id, t.row["batch_id"]))

        tracked = [phase._track(row, on_final) for row in rows.values()]
        saved_no_wait, phase.no_wait = phase.no_wait, False  # scoring cannot stop halfway: judges are waited for
        try:
            await phase._wait(only=tracked)
        finally:
            phase.no_wait = saved_no_wait
        states: dict[str, dict[str, str]] = {}
        for key, (spec, (messages, _), futures) in pending.items():
            line, status = answers.get(key, (None, "ended"))
            ep = phase.endpoint(spec)
            result = phase.result_of(ep, messages, line, status)
            if result.error is None and self.side.writer is not None:
                self.side.writer.add_cache(_cache_row(key, spec, result))
            known_row = (self._known or {}).get(key)
            if known_row is not None:
                states.setdefault(known_row["batch_id"], {})[key] = "done" if result.error is None else "failed"
            for future in futures:
                if not future.done():
                    future.set_result(result)
        for batch_id, st in states.items():
            bstore.set_request_states(phase.store, run_id, batch_id, st)
