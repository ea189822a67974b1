"""The native transport: POST /chat/completions to OpenAI-compatible endpoints over one
pooled aiohttp session. About a tenth of litellm's CPU per call (see llmctl.testing.loadgen).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmctl.models._errors import AttemptError, parse_retry_after, retryable_status
from llmctl.models._http import LeanHTTP
from llmctl.models._response import Completion, StreamReader, decode_json, error_message, parse_body
from llmctl.models._routing import Route
from llmctl.types import Messages

if TYPE_CHECKING:
    import aiohttp  # imported where used: the lean client serves plain-http endpoints without it

_dumps: Callable[[Any], bytes]
try:  # the fastest codec available
    import orjson

    _dumps = orjson.dumps
except ImportError:  # pragma: no cover - depends on the environment
    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def _dumps(value: Any) -> bytes:
        return _encoder.encode(value).encode()


# litellm-level options that are not part of an OpenAI request body
_NOT_BODY = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "num_retries",
        "max_retries",
        "timeout",
        "drop_params",
        "metadata",
        "mock_response",
        "custom_llm_provider",
        "stream",
        "extra_headers",
        "extra_body",
    }
)
_PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _error_text(raw: bytes) -> str:
    try:
        payload = decode_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if error:
        return error_message(error)
    return " ".join(raw[:300].decode("utf-8", "replace").split()) or "(empty body)"


class NativeTransport:
    """One aiohttp session per event loop; connections are kept alive and reused."""

    def __init__(self, limit: int = 0) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lean = LeanHTTP()
        self._lean_loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=self._limit, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=60
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=any(os.environ.get(name) for name in _PROXY_ENV),
                read_bufsize=1 << 20,
                skip_auto_headers=("User-Agent",),
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        self._lean.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    @staticmethod
    def prepare(route: Route, timeout_s: float) -> None:
        route.timeout = None  # the aiohttp.ClientTimeout, made on the first aiohttp call
        route.timeout_s = timeout_s
        # Plain-http endpoints (local servers) get the lean client, unless a proxy may
        # apply or LLMCTL_LEAN_HTTP=0; everything else goes through aiohttp.
        proxied = any(os.environ.get(name) for name in _PROXY_ENV)
        host = urlsplit(route.url).hostname or ""
        if (
            os.environ.get("LLMCTL_LEAN_HTTP", "1") != "0"
            and LeanHTTP.supports(route.url)
            and (not proxied or host in ("127.0.0.1", "localhost", "::1"))
        ):
            route.lean = LeanHTTP.request_head(route.url, route.headers)

    async def call(
        self, route: Route, messages: Messages, params: dict[str, Any], stream: bool, t0: float
    ) -> Completion:
        """One attempt: the completion (see llmctl.models._response); AttemptError on failure."""
        body: dict[str, Any] = {"model": route.model, "messages": messages}
        headers = route.headers
        if params:
            for key, value in params.items():
                if key not in _NOT_BODY:
                    body[key] = value
            if params.get("extra_body"):
                body.update(params["extra_body"])
            if params.get("extra_headers"):
                headers = {**headers, **params["extra_headers"]}
        if stream:
            body["stream"] = True
            body.setdefault("stream_options", {"include_usage": True})
        elif route.lean is not None and headers is route.headers:
            return await self._call_lean(route, body)
        import aiohttp

        session = self._get_session()
        if route.timeout is None:
            route.timeout = aiohttp.ClientTimeout(total=route.timeout_s)
        try:
            async with session.post(route.url, data=_dumps(body), headers=headers, timeout=route.timeout) as resp:
                if resp.status != 200:
                    raw = await resp.read()
                    status = resp.status
                    raise AttemptError(
                        f"HTTP {status} from {route.provider}: {_error_text(raw)}",
                        retryable=retryable_status(status),
                        retry_after=parse_retry_after(resp.headers),
                        status=status,
                    )
                if stream:
                    return await _read_stream(resp, t0)
                raw = await resp.read()
        except asyncio.TimeoutError:
            total = route.timeout.total if route.timeout is not None else None
            raise AttemptError(f"timeout after {total:g}s" if total else "timeout", retryable=True) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise AttemptError(f"connection error ({type(exc).__name__}): {exc}".rstrip(": "), retryable=True) from None
        return parse_body(raw, route.provider)

    async def _call_lean(self, route: Route, body: dict[str, Any]) -> Completion:
        loop = asyncio.get_running_loop()
        if self._lean_loop is not loop:  # connections belong to one event loop
            self._lean.close()
            self._lean_loop = loop
        address, head = route.lean
        try:
            resp = await self._lean.post(address, head, _dumps(body), route.timeout_s)
        except asyncio.TimeoutError:
            raise AttemptError(f"timeout after {route.timeout_s:g}s", retryable=True) from None
        except OSError as exc:
            raise AttemptError(f"connection error ({type(exc).__name__}): {exc}".rstrip(": "), retryable=True) from None
        if resp.status != 200:
            raise AttemptError(
                f"HTTP {resp.status} from {route.provider}: {_error_text(resp.body)}",
                retryable=retryable_status(resp.status),
                retry_after=parse_retry_after(resp.headers),
                status=resp.status,
            )
        return parse_body(resp.body, route.provider)


async def _read_stream(resp: aiohttp.ClientResponse, t0: float) -> Completion:
    reader = StreamReader()
    done = False
    try:
        async for line in resp.content:
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                break
            if reader.add(decode_json(data)) and reader.ttft_ms is None:
                reader.ttft_ms = (time.perf_counter() - t0) * 1000
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AttemptError(f"malformed stream: {exc}", retryable=True) from None
    if not done and not reader.pieces:
        raise AttemptError("stream ended without data", retryable=True)
    return reader.result()
