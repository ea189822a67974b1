"""The native transport: POST /chat/completions to OpenAI-compatible endpoints over one
pooled aiohttp session. About a tenth of litellm's CPU per call (see llmctl.testing.loadgen).

HTTP is aiohttp's: keep-alive pooling, gzip/deflate bodies, chunked framing, 204/304,
redirects (307/308 keep the POST and its body; the Authorization header is not sent to
another origin), proxies from the environment (HTTP(S)_PROXY, NO_PROXY), a CA bundle from
SSL_CERT_FILE, and caps on header lines (MAX_FIELD), header count (MAX_HEADERS) and body
size (MAX_BODY). Credentials in a URL become an Authorization header (llmctl.models._routing).

Stale keep-alive connections: a pooled plain-http connection whose close is already waiting
is never handed out, and a request whose reused connection closed or reset before any byte
of a response arrived is sent once more on a new connection, not counted as a retry (as
Chromium does, HttpNetworkTransaction::ShouldResendRequest): a server's keep-alive timeout
racing the request is the likely cause. Never after a timeout, after any response byte, or
on a new connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import os
import select
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from llmctl.models._errors import AttemptError, parse_retry_after, retryable_status
from llmctl.models._response import Completion, StreamReader, decode_json, error_message, parse_body
from llmctl.models._transport import Route
from llmctl.types import Messages

if TYPE_CHECKING:
    import aiohttp  # imported on the first native call, not at start-up

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
MAX_BODY = 32 << 20  # bytes of one response body (decompressed)
MAX_FIELD = 16 << 10  # bytes of one header line
MAX_HEADERS = 128  # header lines in one response
MAX_REDIRECTS = 5
_USER_AGENT = "llmctl"


_SSL_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}


def _ssl_context() -> ssl.SSLContext | bool:
    """The system's trust store, or the bundle named by SSL_CERT_FILE (and SSL_CERT_DIR).

    Made once per process for the same variables and bundle file (its size and mtime): loading
    a bundle costs milliseconds of CPU, and every session (one per event loop and client, and
    the one-request-per-connection session of resends) would load it again."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if not cafile and not capath:
        return True  # aiohttp's default verified context
    try:
        st = os.stat(cafile) if cafile else None
    except OSError:
        st = None  # ssl says what is wrong with it
    key = (cafile, capath, st.st_size if st else None, st.st_mtime_ns if st else None)
    context = _SSL_CONTEXTS.get(key)
    if context is None:
        context = ssl.create_default_context(cafile=cafile, capath=capath)
        if len(_SSL_CONTEXTS) >= 8:
            _SSL_CONTEXTS.clear()
        _SSL_CONTEXTS[key] = context
    return context


def _error_text(raw: bytes) -> str:
    try:
        payload = decode_json(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if error:
        return error_message(error)
    return " ".join(raw[:300].decode("utf-8", "replace").split()) or "(empty body)"


def _peer_closed(conn: Any) -> bool:
    """Whether an idle plain-http connection already has something waiting (the server's FIN:
    an idle HTTP/1.1 connection has nothing else to say) that the event loop has not read yet."""
    transport = conn.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    try:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll() here, or a closed descriptor
        return False


class _Ticket:
    """What one request met in the pool: the reused connection's protocol and how many bytes it
    had received when it was handed out (None: a new connection)."""

    __slots__ = ("mark", "proto")

    def __init__(self) -> None:
        self.proto: Any = None
        self.mark = 0

    def unanswered(self) -> bool:
        """Whether the request went out on a reused connection that has received nothing since."""
        return self.proto is not None and getattr(self.proto, "received", None) == self.mark


_TICKET: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar("llmctl_native_ticket", default=None)
_CONNECTOR: Any = None


def _connector_class() -> Any:
    """aiohttp's TCPConnector, never handing out a pooled plain-http connection the server has
    closed while it sat idle (TLS connections are not checked: session tickets may be waiting),
    and noting on the request's _Ticket which pooled connection it got and the bytes it had
    received by then (its protocol counts them)."""
    global _CONNECTOR
    if _CONNECTOR is None:
        import aiohttp
        from aiohttp.client_proto import ResponseHandler

        class Handler(ResponseHandler):
            received = 0

            def data_received(self, data: bytes) -> None:
                self.received += len(data)
                super().data_received(data)

        class Connector(aiohttp.TCPConnector):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                if hasattr(self, "_factory"):  # else nothing is counted and nothing re-sent
                    self._factory = cast(Any, functools.partial(Handler, loop=self._loop))

            async def _get(self, key: Any, *args: Any) -> Any:
                while True:
                    conn = await super()._get(key, *args)
                    if conn is None or getattr(key, "is_ssl", True) or not _peer_closed(conn):
                        break
                    conn.close()
                ticket = _TICKET.get()
                if conn is not None and ticket is not None:
                    ticket.proto = conn.protocol
                    ticket.mark = getattr(conn.protocol, "received", -1)
                return conn

        _CONNECTOR = Connector if hasattr(aiohttp.TCPConnector, "_get") else aiohttp.TCPConnector
    return _CONNECTOR


def _new_session(limit: int, force_close: bool) -> aiohttp.ClientSession:
    import aiohttp

    connector = _connector_class()(
        limit=limit,
        limit_per_host=0,
        ttl_dns_cache=300,
        keepalive_timeout=None if force_close else 60,
        force_close=force_close,
        ssl=_ssl_context(),
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        # HTTP(S)_PROXY, NO_PROXY (looked up per request, hence only where one is set)
        trust_env=any(os.environ.get(name) for name in _PROXY_ENV),
        read_bufsize=1 << 20,
        # A User-Agent of our own rather than skip_auto_headers=("User-Agent",): any skipped
        # header sends every request through aiohttp's slow header path (a CIMultiDict built,
        # sorted and copied per request, ~4% of the client CPU per call)
        headers={"User-Agent": _USER_AGENT},
        max_line_size=MAX_FIELD,
        max_field_size=MAX_FIELD,
        max_headers=MAX_HEADERS,
    )


class NativeTransport:
    """One aiohttp session per event loop; connections are kept alive and reused."""

    def __init__(self, limit: int = 0) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fresh: aiohttp.ClientSession | None = None
        self._fresh_loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = _new_session(self._limit, force_close=False)
            self._loop = loop
        return self._session

    def _fresh_session(self) -> aiohttp.ClientSession:
        """A session whose connections serve one request each (for resends after a stale connection)."""
        if self._fresh is None or self._fresh.closed or self._fresh_loop is not asyncio.get_running_loop():
            self._fresh = _new_session(0, force_close=True)
            self._fresh_loop = asyncio.get_running_loop()
        return self._fresh

    async def close(self) -> None:
        for session in (self._session, self._fresh):
            if session is not None and not session.closed:
                await session.close()
        self._session = self._fresh = None

    @staticmethod
    def prepare(route: Route, timeout_s: float) -> None:
        route.timeout = None  # the aiohttp.ClientTimeout, made on the first call
        route.timeout_s = timeout_s
        route.target = route.url  # parsed once as a yarl.URL on the first call

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
        import aiohttp

        session = self._get_session()
        if route.timeout is None:
            from yarl import URL

            route.timeout = aiohttp.ClientTimeout(total=route.timeout_s)
            route.target = URL(route.url)
        data = _dumps(body)
        try:
            ticket = _Ticket()
            token = _TICKET.set(ticket)
            try:
                return await _post(session, route, data, headers, stream, t0, route.timeout)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if isinstance(exc, aiohttp.ClientConnectorError) or not ticket.unanswered():
                    raise
                # The reused connection closed or reset before any byte of a response: most
                # likely the server's keep-alive timeout closed it as this request went out.
                # Sent once more on a connection of its own, within what is left of the
                # timeout; not counted as a retry.
                left = route.timeout_s - (time.perf_counter() - t0)
                timeout = aiohttp.ClientTimeout(total=max(left, 0.001)) if route.timeout_s else route.timeout
                return await _post(self._fresh_session(), route, data, headers, stream, t0, timeout)
            finally:
                _TICKET.reset(token)
        except asyncio.TimeoutError:
            total = route.timeout.total if route.timeout is not None else None
            raise AttemptError(f"timeout after {total:g}s" if total else "timeout", retryable=True) from None
        except aiohttp.TooManyRedirects:
            raise AttemptError(f"more than {MAX_REDIRECTS} redirects from {route.provider}", retryable=False) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise AttemptError(f"connection error ({type(exc).__name__}): {exc}".rstrip(": "), retryable=True) from None


async def _post(
    session: aiohttp.ClientSession,
    route: Route,
    data: bytes,
    headers: dict[str, str],
    stream: bool,
    t0: float,
    timeout: aiohttp.ClientTimeout | None,
) -> Completion:
    async with session.post(
        route.target, data=data, headers=headers, timeout=timeout, max_redirects=MAX_REDIRECTS
    ) as resp:
        if resp.status != 200:
            raw = await _read_body(resp, 4096, cut=True) or b""
            status = resp.status
            raise AttemptError(
                f"HTTP {status} from {route.provider}: {_error_text(raw)}",
                retryable=retryable_status(status),
                retry_after=parse_retry_after(resp.headers),
                status=status,
            )
        if stream:
            return await _read_stream(resp, t0)
        body = await _read_body(resp, MAX_BODY)
        if body is None:
            raise AttemptError(f"response from {route.provider} larger than {MAX_BODY >> 20} MiB", retryable=False)
    return parse_body(body, route.provider)


async def _read_body(resp: aiohttp.ClientResponse, cap: int, cut: bool = False) -> bytes | None:
    """The body (decompressed), or None when it is larger than `cap` bytes (`cut`: its first `cap`)."""
    length = resp.content_length
    plain = not resp.headers.get("Content-Encoding")
    if plain and length is not None:
        if length <= cap:
            return await resp.read()
        if not cut:
            return None
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        parts.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(parts)[:cap] if cut else None
    return b"".join(parts)


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
    if not done and not reader.has_data:
        raise AttemptError("stream ended without data", retryable=True)
    return reader.result()
