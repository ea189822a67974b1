"""The native transport on a reused keep-alive connection that closes under a request: sent once
more on a new connection only when nothing of a response arrived (not a retry), never after a
status line, a timeout, or on a new connection. Raw-socket server from test_models_http."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from tests.models.rawserver import Answer, RawServer, Request, completion, reply
from tests.models.test_models_http import call

OK = completion()


def _ok(sock: socket.socket) -> None:
    sock.sendall(reply("200 OK", [f"Content-Length: {len(OK)}"], OK))


def _close(sock: socket.socket) -> None:
    """Close without a byte of an answer (FIN): what a keep-alive timeout looks like."""
    raise OSError("closed by the test server")


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (RST), without a byte of an answer."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raise OSError("reset by the test server")


def _server(raw: Callable[[Answer], RawServer], bad: dict[int, Callable[[socket.socket], None]]) -> RawServer:
    """Request n (1-based, across connections) gets bad[n](sock); the others a 200."""
    server: RawServer

    def answer(request: Request, sock: socket.socket) -> None:
        (bad.get(len(server.requests)) or _ok)(sock)

    server = raw(answer)
    return server


def test_reused_connection_closed_before_any_byte_is_resent_once(raw: Callable[[Answer], RawServer]) -> None:
    server = _server(raw, {2: _close})
    results, _ = call(server.base, n=2, retries=0)
    assert [(r.output, r.error, r.retries) for r in results] == [("pong", None, 0)] * 2
    assert len(server.requests) == 3  # 1, 2 (closed on), 2 again
    assert server.connections == 2  # the resend went out on a new connection


def test_reused_connection_reset_before_any_byte_is_resent_once(raw: Callable[[Answer], RawServer]) -> None:
    server = _server(raw, {2: _reset})
    results, _ = call(server.base, n=2, retries=0)
    assert [(r.output, r.error, r.retries) for r in results] == [("pong", None, 0)] * 2
    assert len(server.requests) == 3 and server.connections == 2


def test_resend_is_once_then_an_ordinary_error(raw: Callable[[Answer], RawServer]) -> None:
    server = _server(raw, {2: _close, 3: _close})
    results, _ = call(server.base, n=2, retries=0)
    assert results[0].output == "pong"
    assert results[1].output is None and "ServerDisconnected" in (results[1].error or "")
    assert results[1].retries == 0
    assert len(server.requests) == 3


def test_resend_does_not_spend_a_retry(raw: Callable[[Answer], RawServer]) -> None:
    # 2: stale close (re-sent as 3, free), 3: closed again (a retryable error), 4: the retry
    server = _server(raw, {2: _close, 3: _close})
    results, _ = call(server.base, n=2, retries=1)
    assert [(r.output, r.retries) for r in results] == [("pong", 0), ("pong", 1)]
    assert len(server.requests) == 4


def test_no_resend_after_a_status_line(raw: Callable[[Answer], RawServer]) -> None:
    def status_then_close(sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        raise OSError("closed mid-answer")

    server = _server(raw, {2: status_then_close})
    results, _ = call(server.base, n=2, retries=0)
    assert results[0].output == "pong"
    assert results[1].output is None and results[1].error
    assert len(server.requests) == 2  # the server answered: not sent again


def test_no_resend_after_one_byte_then_reset(raw: Callable[[Answer], RawServer]) -> None:
    def byte_then_reset(sock: socket.socket) -> None:
        sock.sendall(b"H")
        time.sleep(0.05)  # the byte arrives before the reset
        _reset(sock)

    server = _server(raw, {2: byte_then_reset})
    results, _ = call(server.base, n=2, retries=0)
    assert results[1].output is None and results[1].error
    assert len(server.requests) == 2


def test_no_resend_on_a_new_connection(raw: Callable[[Answer], RawServer]) -> None:
    server = _server(raw, {1: _close})
    (result,), _ = call(server.base, n=1, retries=0)
    assert result.output is None and "ServerDisconnected" in (result.error or "")
    assert len(server.requests) == 1


def test_no_resend_after_a_timeout(raw: Callable[[Answer], RawServer]) -> None:
    def stall(sock: socket.socket) -> None:
        time.sleep(1.0)
        _close(sock)

    server = _server(raw, {2: stall})
    results, _ = call(server.base, n=2, timeout=0.3, retries=0)
    assert results[1].output is None and "timeout" in (results[1].error or "")
    assert len(server.requests) == 2
