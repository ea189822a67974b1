"""A local OpenAI-compatible chat server for tests and benchmarks (aiohttp, 127.0.0.1 only).

Answers are deterministic functions of the request:

- ``/v1/moderations`` flags an input containing a key of ``moderation_flags`` (in its category);
- ``responder(messages)``, when set, answers first (None falls through);
- the last user message is matched against ``responses`` (substring -> answer,
  first match in order); otherwise ``default``; otherwise the last user message
  is echoed back. An image content part reads as ``[image image/png 69 B sha256:HEX]``
  (the sha256 of its bytes; an http(s) URL as ``[image URL]``), so a needle
  ``sha256:HEX`` answers for one image;
- a reply may be ``{"content": ..., "tool_calls": [{"name", "args"}]}``: the answer
  calls those tools as OpenAI does (``message.tool_calls`` with JSON-text arguments,
  ``finish_reason: tool_calls``; streamed as ``index``ed deltas), if the request
  declares them in ``tools`` (else only the content is sent). When the request has
  ``tools``, needles are matched against the last user message followed by the JSON
  of the tools, so a needle ``"ORD-1 && by its id"`` needs both texts (a tool
  description change can change the answer). When the conversation ends with a
  ``tool`` message, its content is matched instead of the last user message;
- ``last_request`` is the last chat request body received (tools, response_format...);
- usage counts tokens by whitespace (prompt: every message; completion: the answer);
  ``cached_tokens`` (at most the prompt's) is sent as ``usage.prompt_tokens_details.cached_tokens``
  and ``reasoning_tokens`` as ``usage.completion_tokens_details.reasoning_tokens`` (added to
  ``completion_tokens``, as OpenAI counts them), each when non-zero; a ``[[cached_tokens=N]]``
  or ``[[reasoning_tokens=N]]`` directive in the last user message sets them per request;
  ``cache_write_tokens`` (at most the prompt's uncached rest, or ``[[cache_write_tokens=N]]``) is
  sent as ``usage.cache_creation_input_tokens``, as Anthropic and litellm's proxy report prompt
  tokens written to the prompt cache;
- ``max_tokens`` truncates the answer to that many words (``finish_reason: length``).

Latency is ``latency_ms`` (fixed), overridable per request with the
``X-Fake-Latency-Ms`` header or a ``[[latency_ms=N]]`` directive in the last user
message. With ``"stream": true`` the answer is sent as server-sent events, one
word per chunk, ``stream_delay_ms`` apart, after ``latency_ms``.

Faults are injected with fixed rates drawn from one ``random.Random(seed)``:
``rate_429`` (with ``Retry-After`` and ``retry-after-ms``), ``rate_500``,
``rate_slow`` (sleep ``slow_ms`` before answering, to exceed a client timeout),
``rate_malformed`` (status 200, invalid JSON body) and ``rate_drop`` (the
connection is closed with no response). A ``[[faults=429,500,ok]]`` directive
in the last user message scripts the outcome of the 1st, 2nd, ... request with
that message exactly (kinds: ``429 500 slow malformed drop ok``); later requests
succeed. ``bodies`` maps a substring of the last user message to the body of a
200 answer sent instead of the completion (bytes or str verbatim, anything else
as JSON, so a string's lone surrogate arrives as a ``\\ud800`` escape): odd
response shapes for the reliability tests. ``require_key`` answers 401 (quoting the key sent, as OpenAI does)
to requests without ``Authorization: Bearer <require_key>``.

Counters (``requests``, ``requests_for(prompt)``, ``statuses``, ``max_in_flight``)
let tests assert that a cached run made no call or that retries happened.

Use it in a test::

    with FakeOpenAIServer(latency_ms=50, responses={"refund": "Refund issued"}) as srv:
        srv.base_url  # http://127.0.0.1:PORT/v1

or as a process for benchmarks::

    python -m llmctl.testing.server --port 8765 --latency-ms 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from llmctl.images import content_text
from llmctl.testing.batches import BatchState, add_batch_routes

__all__ = ["FakeOpenAIServer", "ServerConfig", "serve_forever"]

_DIRECTIVE = re.compile(r"\[\[(\w+)=([^\]]*)\]\]")
_MALFORMED = b'{"id": "chatcmpl-broken", "choices": [{"message": {"content": "trunc'


@dataclass
class ServerConfig:
    """What the server answers and how it misbehaves; may be changed while it runs."""

    latency_ms: float = 0.0
    stream_delay_ms: float = 0.0
    responses: dict[str, Any] = field(default_factory=dict)
    default: str | None = None
    models: list[str] = field(default_factory=lambda: ["fake-model"])
    seed: int = 0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_slow: float = 0.0
    rate_malformed: float = 0.0
    rate_drop: float = 0.0
    retry_after: float = 1.0  # seconds, sent with every 429
    slow_ms: float = 30_000.0
    require_key: str | None = None
    cached_tokens: int = 0  # prompt tokens reported as read from the prompt cache
    reasoning_tokens: int = 0  # reasoning tokens reported (and counted in completion_tokens)
    cache_write_tokens: int = 0  # prompt tokens reported as written to the prompt cache
    bodies: dict[str, Any] = field(default_factory=dict)
    # Answers from the whole conversation, before `responses` (None: fall through to them):
    # lets a test model obey or ignore its system prompt.
    # /v1/moderations: an input containing a key is flagged in that key's category
    moderation_flags: dict[str, str] = field(default_factory=dict)
    responder: Callable[[list[dict[str, Any]]], Any] | None = None
    # Latency from the conversation (ms), before headers and directives: jitter, slower prompts.
    latency_fn: Callable[[list[dict[str, Any]]], float] | None = None
    # the OpenAI Files and Batches endpoints too (llmctl.testing.batches). Off by default: with them
    # always on, tests/e2e/test_gate_e2e.py's latency test failed in 3 of 3 runs of its file on a
    # loaded machine and passed without them (cause not found)
    batch_api: bool = False


def _text(content: Any) -> str:
    """A message's text; content parts are joined, an image part read as its placeholder
    `[image image/png 69 B sha256:...]` (llmctl.images.describe), so a needle can "see" an image."""
    return content_text(content)


class _State:
    """The server's config, random source and counters (touched only by the server's loop)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.requests = 0
        self.per_prompt: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.seq = 0
        self.last_request: dict[str, Any] | None = None
        self.batch = BatchState()  # the Files and Batches endpoints (llmctl.testing.batches)

    def reset(self) -> None:
        self.rng = random.Random(self.config.seed)
        self.requests = 0
        self.per_prompt.clear()
        self.statuses.clear()
        self.max_in_flight = self.in_flight
        self.seq = 0

    def pick_fault(self, nth: int, directives: Mapping[str, str]) -> str:
        scripted = directives.get("faults")
        if scripted is not None:
            kinds = [k.strip() for k in scripted.split(",") if k.strip()]
            return kinds[nth - 1] if nth <= len(kinds) else "ok"
        c = self.config
        total = c.rate_429 + c.rate_500 + c.rate_slow + c.rate_malformed + c.rate_drop
        if total <= 0:
            return "ok"
        r = self.rng.random()
        for kind, rate in (
            ("429", c.rate_429),
            ("500", c.rate_500),
            ("slow", c.rate_slow),
            ("malformed", c.rate_malformed),
            ("drop", c.rate_drop),
        ):
            if r < rate:
                return kind
            r -= rate
        return "ok"

    def answer(self, last_user: str, messages: list[dict[str, Any]] | None = None, matched: str | None = None) -> Any:
        if self.config.responder is not None:
            reply = self.config.responder(list(messages or []))
            if reply is not None:
                return reply
        for needle, reply in self.config.responses.items():
            if all(part in (last_user if matched is None else matched) for part in needle.split(" && ")):
                return reply
        if self.config.default is not None:
            return self.config.default
        return last_user


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps({"error": {"message": message, "type": kind, "code": status}})
    return web.Response(status=status, body=body.encode(), content_type="application/json", headers=headers)


def _make_app(state: _State) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        state.requests += 1
        state.in_flight += 1
        if state.in_flight > state.max_in_flight:
            state.max_in_flight = state.in_flight
        try:
            response = await _chat(request)
        finally:
            state.in_flight -= 1
        return response

    async def _chat(request: web.Request) -> web.StreamResponse:
        cfg = state.config
        try:
            body = json.loads(await request.read())
            messages = body["messages"]
        except (ValueError, KeyError, TypeError):
            state.statuses["400"] += 1
            return _error(400, "request body must be JSON with 'messages'", "invalid_request_error")
        last_user = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                last_user = _text(message.get("content"))
                break
        state.per_prompt[last_user] += 1
        state.last_request = body if isinstance(body, dict) else None
        matched = last_user
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
            matched = _text(messages[-1].get("content"))
        tools = body.get("tools") if isinstance(body, dict) else None
        if isinstance(tools, list) and tools:
            matched += "\n" + json.dumps(tools, sort_keys=True)
        nth = state.per_prompt[last_user]
        directives = dict(_DIRECTIVE.findall(last_user)) if "[[" in last_user else {}

        if cfg.require_key is not None:
            auth = request.headers.get("Authorization", "")
            if auth != f"Bearer {cfg.require_key}":
                state.statuses["401"] += 1
                sent = auth.removeprefix("Bearer ")
                return _error(401, f"Incorrect API key provided: {sent}.", "invalid_api_key")

        fault = state.pick_fault(nth, directives)
        latency = cfg.latency_ms if cfg.latency_fn is None else float(cfg.latency_fn(list(messages)))
        header_latency = request.headers.get("X-Fake-Latency-Ms")
        if header_latency is not None:
            latency = float(header_latency)
        if "latency_ms" in directives:
            latency = float(directives["latency_ms"])
        if fault == "slow":
            latency = max(latency, cfg.slow_ms)
        if latency > 0:
            await asyncio.sleep(latency / 1000)

        if fault == "429":
            state.statuses["429"] += 1
            return _error(
                429,
                "Rate limit reached (fake server).",
                "rate_limit_exceeded",
                headers={
                    "Retry-After": str(math.ceil(cfg.retry_after)),
                    "retry-after-ms": str(int(cfg.retry_after * 1000)),
                },
            )
        if fault == "500":
            state.statuses["500"] += 1
            return _error(500, "The server had an error (fake server).", "server_error")
        if fault == "malformed":
            state.statuses["malformed"] += 1
            return web.Response(body=_MALFORMED, content_type="application/json")
        if fault == "drop":
            state.statuses["drop"] += 1
            transport = request.transport
            if transport is not None:
                transport.abort()
            raise asyncio.CancelledError  # aiohttp drops the request without writing

        for needle, raw in cfg.bodies.items():
            if needle in last_user:
                state.statuses["200"] += 1
                if not isinstance(raw, (bytes, str)):
                    raw = json.dumps(raw)
                data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
                return web.Response(body=data, content_type="application/json")

        answer = state.answer(last_user, messages, matched)
        calls: list[dict[str, Any]] = []
        if isinstance(answer, dict):
            declared = {(t.get("function") or {}).get("name") for t in tools or () if isinstance(t, dict)}
            calls = [
                {
                    "id": f"call_{state.seq + 1}_{i}",
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c.get("args") or {})},
                }
                for i, c in enumerate(answer.get("tool_calls") or ())
                if c.get("name") in declared
            ]
            answer = answer.get("content") or ""
        finish = "tool_calls" if calls else "stop"
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        words = answer.split()
        if isinstance(max_tokens, int) and 0 < max_tokens < len(words):
            answer = " ".join(words[:max_tokens])
            words = words[:max_tokens]
            finish = "length"
        prompt_tokens = sum(len(_text(m.get("content")).split()) for m in messages)
        completion_tokens = len(words) + sum(len(c["function"]["arguments"].split()) for c in calls)
        cached_tokens = min(int(directives.get("cached_tokens", cfg.cached_tokens)), prompt_tokens)
        reasoning_tokens = int(directives.get("reasoning_tokens", cfg.reasoning_tokens))
        written = min(int(directives.get("cache_write_tokens", cfg.cache_write_tokens)), prompt_tokens - cached_tokens)
        completion_tokens += reasoning_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if cached_tokens > 0:
            usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
        if reasoning_tokens > 0:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        if written > 0:
            usage["cache_creation_input_tokens"] = written
        state.seq += 1
        model = body.get("model", "fake-model")
        ident = f"chatcmpl-fake-{state.seq}"
        state.statuses["200"] += 1
        if body.get("stream"):
            delay = float(directives.get("stream_delay_ms", cfg.stream_delay_ms))
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await _stream(request, ident, model, answer, finish, usage if include_usage else None, delay, calls)
        payload = {
            "id": ident,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer if answer or not calls else None}
                    | ({"tool_calls": calls} if calls else {}),
                    "finish_reason": finish,
                }
            ],
            "usage": usage,
        }
        return web.Response(body=json.dumps(payload).encode(), content_type="application/json")

    async def models(request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "llmctl"} for m in state.config.models]
        return web.json_response({"object": "list", "data": data})

    async def moderations(request: web.Request) -> web.Response:
        state.requests += 1
        body = json.loads(await request.read())
        inputs = body.get("input")
        texts = inputs if isinstance(inputs, list) else [inputs]
        results = []
        for text in texts:
            hits = {cat for needle, cat in state.config.moderation_flags.items() if needle in str(text)}
            cats = {c: c in hits for c in sorted({*state.config.moderation_flags.values(), "hate", "violence"})}
            scores = {c: 0.97 if hit else 0.01 for c, hit in cats.items()}
            results.append({"flagged": bool(hits), "categories": cats, "category_scores": scores})
        state.statuses["200"] += 1
        return web.json_response({"id": f"modr-fake-{state.requests}", "model": body.get("model"), "results": results})

    app = web.Application()
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", chat)
        app.router.add_post(f"{prefix}/moderations", moderations)
        app.router.add_get(f"{prefix}/models", models)
    if state.config.batch_api:
        add_batch_routes(app, state.batch)
    return app


async def _stream(
    request: web.Request,
    ident: str,
    model: str,
    answer: str,
    finish: str,
    usage: dict[str, Any] | None,
    delay_ms: float,
    calls: list[dict[str, Any]] | None = None,
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None, extra: dict[str, Any] | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if extra:
            data.update(extra)
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    pieces = re.findall(r"\s*\S+", answer) or [""]
    for i, piece in enumerate(pieces):
        if i and delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
        await response.write(chunk(delta, None))
    for i, call in enumerate(calls or ()):  # as OpenAI streams them: id and name first, then argument pieces
        head = {"index": i, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"]}}
        await response.write(chunk({"tool_calls": [head]}, None))
        args = call["function"]["arguments"]
        for start in range(0, len(args), 8):
            piece = {"index": i, "function": {"arguments": args[start : start + 8]}}
            await response.write(chunk({"tool_calls": [piece]}, None))
    await response.write(chunk({}, finish))
    if usage is not None:
        usage_chunk = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        await response.write(b"data: " + json.dumps(usage_chunk).encode() + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _start(state: _State, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(_make_app(state), access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1])


class FakeOpenAIServer:
    """The fake server on a background thread with its own event loop (a context manager).

    Keyword arguments are :class:`ServerConfig` fields. ``configure(**kw)`` changes
    them while it runs; ``reset()`` clears the counters and re-seeds the faults.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        self.host = host
        self.port = port
        self.config = ServerConfig(**config)
        self._state = _State(self.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stop: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOpenAIServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._runner, self.port = loop.run_until_complete(_start(self._state, self.host, self.port))
                self._stop = asyncio.Event()
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self._stop.wait())
                loop.run_until_complete(self._runner.cleanup())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests look at ----------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def configure(self, **changes: Any) -> None:
        """Change config fields (rates, latency, responses...) of the running server."""
        for key, value in changes.items():
            if not hasattr(self.config, key):
                raise TypeError(f"unknown server option {key!r}")
            setattr(self.config, key, value)
        if "seed" in changes:
            self._state.rng = random.Random(self.config.seed)

    def reset(self) -> None:
        """Forget all counters and restart the fault sequence from the seed."""
        self._state.reset()

    @property
    def requests(self) -> int:
        """Chat requests received (every one, whatever its outcome)."""
        return self._state.requests

    def requests_for(self, prompt: str) -> int:
        """Chat requests whose last user message was exactly `prompt`."""
        return self._state.per_prompt[prompt]

    @property
    def per_prompt(self) -> dict[str, int]:
        return dict(self._state.per_prompt)

    @property
    def last_request(self) -> dict[str, Any] | None:
        """The last chat request body received (its tools, tool_choice, response_format...)."""
        return self._state.last_request

    @property
    def statuses(self) -> dict[str, int]:
        """Outcomes sent: "200", "400", "401", "429", "500", "malformed", "drop"."""
        return dict(self._state.statuses)

    @property
    def in_flight(self) -> int:
        return self._state.in_flight

    @property
    def max_in_flight(self) -> int:
        return self._state.max_in_flight

    @property
    def batch(self) -> BatchState:
        """The Files and Batches endpoints' files, batches, config and counters (llmctl.testing.batches)."""
        return self._state.batch


async def serve_forever(config: ServerConfig, host: str = "127.0.0.1", port: int = 0) -> None:
    """Run the server in the current loop until SIGINT/SIGTERM; print its base URL first."""
    state = _State(config)
    runner, bound = await _start(state, host, port)
    print(f"llmctl fake OpenAI server listening on http://{host}:{bound}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-POSIX
            pass
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmctl.testing.server", description="Local OpenAI-compatible fake chat server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--stream-delay-ms", type=float, default=0.0)
    parser.add_argument("--default", default=None, help="answer when no rule matches (default: echo)")
    parser.add_argument("--responses", default=None, help='JSON object {"substring": "answer"}')
    parser.add_argument("--seed", type=int, default=0)
    for kind in ("429", "500", "slow", "malformed", "drop"):
        parser.add_argument(f"--rate-{kind}", type=float, default=0.0, help=f"fraction of requests: {kind}")
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds, sent with 429s")
    parser.add_argument("--slow-ms", type=float, default=30_000.0)
    parser.add_argument("--require-key", default=None)
    args = parser.parse_args(argv)
    config = ServerConfig(
        latency_ms=args.latency_ms,
        stream_delay_ms=args.stream_delay_ms,
        default=args.default,
        responses=json.loads(args.responses) if args.responses else {},
        seed=args.seed,
        rate_429=args.rate_429,
        rate_500=args.rate_500,
        rate_slow=args.rate_slow,
        rate_malformed=args.rate_malformed,
        rate_drop=args.rate_drop,
        retry_after=args.retry_after,
        slow_ms=args.slow_ms,
        require_key=args.require_key,
    )
    try:
        asyncio.run(serve_forever(config, args.host, args.port))
    except KeyboardInterrupt:  # pragma: no cover
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
