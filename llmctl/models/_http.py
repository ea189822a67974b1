"""A minimal keep-alive HTTP/1.1 client for plain-http POSTs (local model servers).

aiohttp spends ~0.25 ms of CPU per request in its own Python; this spends a small
fraction of that, which matters when hundreds of requests a second share two
cores with the model server. It handles only what OpenAI-compatible servers
(vLLM, llama.cpp, TGI, Ollama's /v1, the fake server) send for a non-streaming
completion: a status line, headers, and a body framed by Content-Length, chunked
transfer encoding, or the connection closing. TLS, proxies, redirects, compressed
bodies and streaming stay with aiohttp.
"""

from __future__ import annotations

import asyncio
import select
from urllib.parse import urlsplit


class HTTPResponse:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body


class ProtocolError(ConnectionError):
    """The server sent something that is not an HTTP/1.1 response."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[HTTPResponse] | None = None
        self._buf = bytearray()
        self._status = 0
        self._headers: dict[str, str] | None = None
        self._body_at = 0
        self._length = -1  # -1: until close; -2: chunked
        self._http10 = False

    # asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self.waiter is None:
            return
        try:
            response = self._parse()
        except (ValueError, IndexError) as exc:
            self._fail(ProtocolError(f"invalid HTTP response: {exc}"))
            return
        if response is not None:
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                waiter.set_result(response)

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is None:
            return
        if self._headers is not None and self._length == -1:  # body ends with the connection
            waiter, self.waiter = self.waiter, None
            if not waiter.done():
                body = bytes(self._buf[self._body_at :])
                waiter.set_result(HTTPResponse(self._status, self._headers, body))
            return
        self._fail(exc or ConnectionResetError("server closed the connection without a response"))

    # ------------------------------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def peer_closed(self) -> bool:
        """Whether an idle connection has become unusable: the server's FIN (or anything else)
        is already waiting though the event loop has not read it yet. Such a connection is
        closed here, as reusing it would fail the next request."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        if sock is None:
            return False
        try:
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN)
            ready = bool(poller.poll(0))
        except (OSError, ValueError, AttributeError):  # no poll() here, or a closed descriptor
            return False
        if ready:  # an idle HTTP/1.1 connection has nothing to say but its end
            self.abort()
        return ready

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def start(self, request: bytes, waiter: asyncio.Future[HTTPResponse]) -> None:
        self._buf.clear()
        self._headers = None
        self.waiter = waiter
        assert self.transport is not None
        self.transport.write(request)

    def _parse(self) -> HTTPResponse | None:
        buf = self._buf
        if self._headers is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return None
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            self._http10 = lines[0].startswith("HTTP/1.0")
            if 100 <= status < 200:  # interim response: skip it
                del buf[: end + 4]
                return self._parse()
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self._status, self._headers, self._body_at = status, headers, end + 4
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._length = -2
            elif "content-length" in headers:
                self._length = int(headers["content-length"])
            else:
                self._length = -1
        if self._length >= 0:
            stop = self._body_at + self._length
            if len(buf) < stop:
                return None
            return self._done(bytes(buf[self._body_at : stop]))
        if self._length == -2:
            return self._parse_chunked()
        return None

    def _parse_chunked(self) -> HTTPResponse | None:
        buf, pos = self._buf, self._body_at
        parts: list[bytes] = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", eol) if buf[eol + 2 : eol + 4] != b"\r\n" else eol
                if trailer_end < 0:
                    return None
                return self._done(b"".join(parts))
            start, stop = eol + 2, eol + 2 + size
            if len(buf) < stop + 2:
                return None
            parts.append(bytes(buf[start:stop]))
            pos = stop + 2

    def _done(self, body: bytes) -> HTTPResponse:
        assert self._headers is not None
        response = HTTPResponse(self._status, self._headers, body)
        connection = self._headers.get("connection", "").lower()
        if connection == "close" or (self._http10 and connection != "keep-alive"):  # HTTP/1.0 closes by default
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        self._headers = None
        self._buf.clear()
        return response


class LeanHTTP:
    """Pooled keep-alive connections per (host, port); one request at a time each."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._all: set[_Connection] = set()

    @staticmethod
    def supports(url: str) -> bool:
        return urlsplit(url).scheme == "http"

    @staticmethod
    def request_head(url: str, headers: dict[str, str]) -> tuple[tuple[str, int], bytes]:
        """(host, port) and the request's bytes up to Content-Length's value, built once per route."""
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
        lines.append("Content-Length: ")
        return (host, port), "\r\n".join(lines).encode("latin-1")

    async def post(self, address: tuple[str, int], head: bytes, body: bytes, timeout: float) -> HTTPResponse:
        """Send `head` + length + `body`; TimeoutError after `timeout` s, ConnectionError/OSError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        idle = self._idle.get(address)
        conn: _Connection | None = None
        while idle:
            candidate = idle.pop()
            if not candidate.closed and not candidate.peer_closed():
                conn = candidate
                break
            self._all.discard(candidate)
        if conn is None:
            _, new = await asyncio.wait_for(loop.create_connection(_Connection, *address), timeout)
            self._all.add(new)
            conn = new
        return await self._exchange(loop, conn, address, head, body, deadline)

    async def _exchange(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: _Connection,
        address: tuple[str, int],
        head: bytes,
        body: bytes,
        deadline: float,
    ) -> HTTPResponse:
        waiter: asyncio.Future[HTTPResponse] = loop.create_future()
        conn.start(head + str(len(body)).encode() + b"\r\n\r\n" + body, waiter)
        timer = loop.call_at(deadline, _expire, waiter, conn)
        try:
            response = await waiter
        except BaseException:
            conn.abort()
            self._all.discard(conn)
            raise
        finally:
            timer.cancel()
        if conn.closed:
            self._all.discard(conn)
        else:
            self._idle.setdefault(address, []).append(conn)
        return response

    def close(self) -> None:
        for conn in self._all:
            conn.abort()
        self._all.clear()
        self._idle.clear()


def _expire(waiter: asyncio.Future[HTTPResponse], conn: _Connection) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
    conn.waiter = None
    conn.abort()
