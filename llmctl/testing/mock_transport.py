"""A transport that answers from a function, for tests of everything above the wire (retries,
limits, cost, scrubbing, the run engine), as httpx's MockTransport does for HTTP clients.

    def handler(request: MockRequest) -> Completion | str:
        if request.attempt == 1:
            raise AttemptError("HTTP 503 from mock", retryable=True, status=503)
        return "hello"

    client = ModelClient(transports={"native": MockTransport(handler)})

The handler sees each attempt (route, messages, params, stream); it returns the answer as a
`Completion` or its text, or raises `AttemptError` (llmctl.models._errors) as a real transport
does. A coroutine function is awaited. Every attempt is kept in `requests`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llmctl.models._response import Completion
from llmctl.models._transport import Route
from llmctl.types import Messages

Answer = Completion | str
Handler = Callable[["MockRequest"], Answer | Awaitable[Answer]]


@dataclass(frozen=True)
class MockRequest:
    """One attempt as the transport received it; `attempt` counts from 1 per (route, messages)."""

    route: Route
    messages: Messages
    params: dict[str, Any]
    stream: bool
    attempt: int


@dataclass
class MockTransport:
    """A `Transport` (llmctl.models._transport) whose answers come from `handler`."""

    handler: Handler
    requests: list[MockRequest] = field(default_factory=list)
    prepared: list[Route] = field(default_factory=list)
    closed: bool = False
    _attempts: dict[tuple[int, str], int] = field(default_factory=dict)

    def prepare(self, route: Route, timeout_s: float) -> None:
        route.timeout_s = timeout_s
        self.prepared.append(route)

    async def call(
        self, route: Route, messages: Messages, params: dict[str, Any], stream: bool, t0: float
    ) -> Completion:
        key = (id(route), repr(messages))
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        request = MockRequest(route=route, messages=messages, params=dict(params), stream=stream, attempt=attempt)
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return Completion(output=answer) if isinstance(answer, str) else answer

    async def close(self) -> None:
        self.closed = True
