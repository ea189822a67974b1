"""The transport interface: how one attempt of one model call is made, behind which retries,
limits, caching, cost and scrubbing (llmctl.models._client) apply to every transport alike.

A `Route` says how to call one model (resolved once per model by llmctl.models._routing); a
`Transport` makes one attempt over a route. The transports: the native OpenAI-compatible one
(llmctl.models._native.NativeTransport, a pooled aiohttp session) and litellm
(llmctl.models._litellm.LitellmTransport, also serving a fleet through litellm's Router).
Offline models (`echo`, `scripted`, python functions) are answered by llmctl.models._offline
without a transport. A new transport is a class with these three methods plus one
`llmctl.models.register_transport(name, factory, route)` call: llmctl.yaml's `transport: NAME` on
an alias then sends that model through it (`route(spec)` says how, as a `Route` of kind NAME).
Tests pass one to `ModelClient(transports=...)` instead (llmctl.testing.mock_transport.MockTransport
answers from a function, as httpx's MockTransport).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from llmctl.models._cost import FREE, Price
from llmctl.models._response import Completion
from llmctl.types import Messages, ModelSpec

if TYPE_CHECKING:  # the transports import these on first use, never this module
    import aiohttp
    from litellm.router import Router
    from yarl import URL


RouteKind = Literal["offline", "native", "litellm"]  # the built-in kinds; each but offline has a transport


@dataclass
class Route:
    """How to call one model: its transport and, for the native one, URL, model and headers."""

    kind: RouteKind | str  # a built-in kind, or the name of a registered transport
    provider: str = ""
    model: str = ""  # the model name the endpoint expects
    url: str = ""
    api_key: str | None = None
    key_env: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    price: Price = FREE
    timeout: aiohttp.ClientTimeout | None = None  # set by the native transport
    timeout_s: float = 60.0
    target: URL | str = ""  # the native transport's request URL (route.url, parsed once as a yarl.URL)
    router: Router | None = None  # for an alias with deployments or fallbacks
    group_prices: dict[str, Price] = field(default_factory=dict)  # Router model group -> its price
    max_attempts: int = 1  # deployments and fallbacks one Router call may try (each up to the timeout)
    spec: ModelSpec | None = None  # litellm: the alias it was resolved for (litellm's call takes its fields)


@runtime_checkable
class Transport(Protocol):
    """One attempt of a model call over a `Route`: the parsed completion, or an AttemptError
    (llmctl.models._errors) saying whether it may be retried."""

    def prepare(self, route: Route, timeout_s: float) -> None:
        """Once per route, when it is resolved: whatever the transport keeps on it."""

    async def call(
        self, route: Route, messages: Messages, params: dict[str, Any], stream: bool, t0: float
    ) -> Completion:
        """One attempt; `t0` is when it started (perf_counter), for the time to first token."""
        ...

    async def close(self) -> None:
        """Release pooled connections."""


# Transports registered by name (`register_transport`): how a model whose alias says
# `transport: NAME` is routed. Read by the config parser (is NAME known?) and llmctl.models._routing.
ROUTE_RESOLVERS: dict[str, Callable[[ModelSpec], Route]] = {}
