"""ModelClient: one per run; completes calls with retries, limits, latency and cost."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from llmctl.models._cost import cost_usd
from llmctl.models._credentials import register_secret, scrub, scrubber
from llmctl.models._errors import AttemptError
from llmctl.models._limits import TokenBucket
from llmctl.models._offline import count_tokens, prompt_tokens, run_offline
from llmctl.models._options import NATIVE_PARAMS
from llmctl.models._response import Completion, clean_text, tool_call
from llmctl.models._routing import TRANSPORTS, needs_litellm, resolve_route, route_key, transport_from_env
from llmctl.models._transport import ROUTE_RESOLVERS, Route, Transport
from llmctl.safetext import terminal_safe
from llmctl.types import DEFAULT_CONCURRENCY, CallResult, Messages, ModelSpec, Usage

log = logging.getLogger("llmctl.models")


def _native_transport() -> Transport:
    from llmctl.models._native import NativeTransport  # aiohttp is imported here, on first use

    return NativeTransport(limit=0)


def _litellm_transport() -> Transport:
    from llmctl.models._litellm import LitellmTransport

    return LitellmTransport()


# The registration of each transport: a route's `kind` -> a factory called once per client, on
# the first route of that kind (so `llmctl --help` or an offline run imports neither aiohttp nor
# litellm). A new transport is one module with a `Transport` class plus its line here.
TRANSPORT_FACTORIES: dict[str, Callable[[], Transport]] = {
    "native": _native_transport,
    "litellm": _litellm_transport,
}


def register_transport(name: str, factory: Callable[[], Transport], route: Callable[[ModelSpec], Route]) -> None:
    """Add a transport that llmctl.yaml names on an alias (`transport: NAME`): `factory()` makes it
    (once per client, on the first call of that kind) and `route(spec)` says how to call such a
    model (a `Route` of kind NAME: its URL, model, key, price...). Retries, limits, the response
    cache, cost and key scrubbing apply to it as to the built-in transports. ValueError if NAME
    is taken (auto, native, litellm, offline or another registered one)."""
    name = name.strip().lower()
    if not name or name in (*TRANSPORTS, "offline") or name in TRANSPORT_FACTORIES or name in ROUTE_RESOLVERS:
        raise ValueError(f"transport name {name!r} is taken")
    TRANSPORT_FACTORIES[name] = factory
    ROUTE_RESOLVERS[name] = route


class _ModelLimits:
    """Per-model concurrency and rate limits (shared by every call to that model)."""

    __slots__ = ("rpm", "semaphore", "tpm")

    def __init__(self, spec: ModelSpec) -> None:
        self.semaphore = asyncio.Semaphore(spec.max_concurrency) if spec.max_concurrency else None
        self.rpm = TokenBucket(spec.rpm) if spec.rpm else None
        self.tpm = TokenBucket(spec.tpm) if spec.tpm else None


class ModelClient:
    """Calls models for one run. Use as `async with ModelClient(concurrency=20) as client:`.

    `complete()` never raises for provider failures: after `spec.retries` retries
    (so at most `1 + spec.retries` attempts) it returns a CallResult with `output=None`
    and a scrubbed `error`. Retried: 408/409/429/5xx, timeouts (`spec.timeout` per
    attempt), connection errors and malformed bodies, with exponential backoff and full
    jitter (`backoff_base * 2**n`, capped at `backoff_max`), or at least the server's
    `Retry-After` (capped at `max_retry_after`). Other 4xx errors are not retried.
    Nothing a server sends escapes `complete()`: every body goes through
    `llmctl.models._response` (odd shapes read, impossible token counts None with a
    warning logged once per model and kind, counted in `warnings`), and an unforeseen
    exception in a transport is that call's error. Outputs and errors are scrubbed of keys.

    Concurrency: at most `concurrency` calls in flight overall and `spec.max_concurrency`
    per model; `spec.rpm` / `spec.tpm` are token buckets (tpm is charged the prompt's
    whitespace tokens before a call and the completion's after).
    `transport`: "auto" (default, or LLMCTL_TRANSPORT), "native" or "litellm".
    """

    def __init__(
        self,
        concurrency: int = DEFAULT_CONCURRENCY,
        *,
        transport: str | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        max_retry_after: float = 60.0,
        seed: int | None = None,
        transports: Mapping[str, Transport] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.transport = transport_from_env(transport)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._random = random.Random(seed)
        self._global = asyncio.Semaphore(concurrency)
        self._routes: dict[tuple[Any, ...], Route] = {}
        self._limits: dict[str, _ModelLimits] = {}
        self._import_lock = asyncio.Lock()
        self._transports: dict[str, Transport] = dict(transports or {})  # by route kind, made on first use
        self._scrubbers: dict[tuple[Any, ...], Callable[[str], str]] = {}
        self.warnings: dict[tuple[str, str], int] = {}  # (model, odd-response warning) -> count

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        for transport in self._transports.values():
            await transport.close()

    def route(self, spec: ModelSpec) -> Route:
        """The transport serving `spec` (resolved once per model and cached)."""
        key = route_key(spec)
        route = self._routes.get(key)
        if route is None:
            route = resolve_route(spec, self.transport)
            if route.kind != "offline":
                self._transport(route.kind).prepare(route, spec.timeout)
            self._routes[key] = route
        return route

    async def _litellm_route(self, spec: ModelSpec) -> Route:
        key = ("litellm", *route_key(spec))
        route = self._routes.get(key)
        if route is None:
            if "litellm" not in sys.modules:
                from llmctl.models._litellm import import_litellm

                async with self._import_lock:
                    await asyncio.to_thread(import_litellm)
            route = resolve_route(spec, "litellm")
            self._routes[key] = route
        return route

    async def prepare(self, spec: ModelSpec) -> Route:
        """Resolve `spec`'s route ahead of the first call (litellm, if needed, is imported
        in a thread so the loop keeps running). `complete` does this itself when needed."""
        if needs_litellm(spec, self.transport) and "litellm" not in sys.modules:
            from llmctl.models._litellm import import_litellm

            async with self._import_lock:
                await asyncio.to_thread(import_litellm)
        return self.route(spec)

    def _transport(self, kind: str) -> Transport:
        """The transport serving routes of `kind` (one per client; its module imported on first use)."""
        transport = self._transports.get(kind)
        if transport is None:
            make = TRANSPORT_FACTORIES.get(kind)
            if make is None:
                raise ValueError(f"no transport for routes of kind {kind!r}")
            transport = self._transports[kind] = make()
        return transport

    def _model_limits(self, spec: ModelSpec) -> _ModelLimits:
        limits = self._limits.get(spec.name)
        if limits is None:
            limits = self._limits[spec.name] = _ModelLimits(spec)
        return limits

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        jitter = self._random.uniform(0, min(self.backoff_max, self.backoff_base * (2**attempt)))
        if retry_after is not None:
            return max(min(retry_after, self.max_retry_after), jitter)
        return jitter

    async def complete(
        self,
        spec: ModelSpec,
        messages: Messages,
        params: dict[str, Any] | None = None,
        *,
        repeat_index: int = 0,
    ) -> CallResult:
        """Call `spec` with `messages`; `params` (temperature, max_tokens...) override spec.params.

        `repeat_index` does not change the request (each repeat is a separate call);
        it is part of the cache key (see `cache_key`).
        """
        route = self._routes.get(route_key(spec)) or await self.prepare(spec)
        limits = self._model_limits(spec)
        merged = {**spec.params, **params} if params else spec.params
        if route.kind == "native" and params and any(key not in NATIVE_PARAMS for key in params):
            # a prompt's params the native path does not implement: this call goes through litellm
            key = next(key for key in params if key not in NATIVE_PARAMS)
            if spec.transport == "native":
                return CallResult(
                    output=None, error=f"option {key!r} is not implemented by the native transport (transport: native)"
                )
            route = await self._litellm_route(spec)
        if route.kind == "offline":
            async with self._global:
                if limits.semaphore is None:
                    result = await run_offline(spec, messages)
                else:
                    async with limits.semaphore:
                        result = await run_offline(spec, messages)
            if result.error:
                result.error = scrub(result.error)
            return result

        attempts = max(0, spec.retries) + 1
        estimate = prompt_tokens(messages) if limits.tpm is not None else 0
        scrub_text = self._scrubber(route)
        attempt = 0
        while True:
            try:
                if limits.rpm is not None:
                    await limits.rpm.acquire(1)
                if limits.tpm is not None:
                    await limits.tpm.acquire(estimate)
                async with self._global:
                    if limits.semaphore is None:
                        t0 = time.perf_counter()
                        completion = await self._attempt(spec, route, messages, merged, t0)
                    else:
                        async with limits.semaphore:
                            t0 = time.perf_counter()
                            completion = await self._attempt(spec, route, messages, merged, t0)
                latency_ms = (time.perf_counter() - t0) * 1000
            except AttemptError as exc:
                if not exc.retryable or attempt + 1 >= attempts:
                    tried = f" (gave up after {attempt + 1} attempts)" if exc.retryable else ""
                    return CallResult(output=None, error=scrub_text(clean_text(exc.message) + tried), retries=attempt)
                await asyncio.sleep(self._delay(attempt, exc.retry_after))
                attempt += 1
                continue
            return self._result(spec, route, messages, completion, latency_ms, attempt, scrub_text)

    def _result(
        self,
        spec: ModelSpec,
        route: Route,
        messages: Messages,
        completion: Completion,
        latency_ms: float,
        retries: int,
        scrub_text: Callable[[str], str],
    ) -> CallResult:
        output = scrub_text(completion.output)
        usage = completion.usage
        if usage is None:  # none sent: whitespace estimates, as for offline models
            usage = Usage(prompt_tokens(messages), count_tokens(output))
        for warning in completion.warnings:
            self._warn(spec, warning)
        limits = self._model_limits(spec)
        if limits.tpm is not None:
            limits.tpm.debit(usage.completion_tokens or 0)
        return CallResult(
            output=output,
            usage=usage,
            # unknown counts cost nothing; cached prompt tokens and reasoning tokens at their own rates
            cost_usd=cost_usd(
                route.price if completion.price is None else completion.price,
                usage.prompt_tokens or 0,
                usage.completion_tokens or 0,
                usage.cached_tokens,
                usage.reasoning_tokens,
                usage.cache_write_tokens,
            ),
            latency_ms=latency_ms,
            ttft_ms=completion.ttft_ms if spec.stream else None,
            retries=retries,
            tool_calls=_scrub_calls(completion.tool_calls, scrub_text),
            finish_reason=completion.finish_reason,
        )

    def _scrubber(self, route: Route) -> Callable[[str], str]:
        """The scrub function for a route's texts (its key in every form, and every known key)."""
        key = (route.key_env, route.api_key)
        scrub_text = self._scrubbers.get(key)
        if scrub_text is None:
            register_secret(route.api_key)
            scrub_text = self._scrubbers[key] = scrubber(route.key_env, (route.api_key or "",))
        return scrub_text

    def _warn(self, spec: ModelSpec, warning: str) -> None:
        """Log an odd-response warning once per model and kind; `warnings` counts them all."""
        key = (spec.name, warning)
        self.warnings[key] = self.warnings.get(key, 0) + 1
        if self.warnings[key] == 1:
            log.warning("warning: model %s: %s (said once per model)", terminal_safe(spec.name), warning)

    async def _attempt(
        self, spec: ModelSpec, route: Route, messages: Messages, params: dict[str, Any], t0: float
    ) -> Completion:
        try:
            return await self._transport(route.kind).call(route, messages, params, spec.stream, t0)
        except (AttemptError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a transport bug or an unforeseen body: this case's error, not the run's
            detail = " ".join(str(exc).split())[:300]
            raise AttemptError(
                f"unexpected failure in the model call ({type(exc).__name__}: {detail}); please report it",
                retryable=False,
            ) from None


def _scrub_calls(calls: list[dict[str, Any]] | None, scrub_text: Callable[[str], str]) -> list[dict[str, Any]] | None:
    """Tool calls with keys scrubbed from their name and argument text (re-parsed when it changed)."""
    if not calls:
        return None
    out = []
    for call in calls:
        raw = scrub_text(call["raw_arguments"])
        name = scrub_text(call["name"])
        if raw == call["raw_arguments"] and name == call["name"]:
            out.append(call)
        else:
            out.append(tool_call(name, raw, call.get("id")))
    return out
