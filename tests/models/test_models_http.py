"""The native transport's HTTP (aiohttp) against a raw-socket server: odd framings end in one
result or one clear error, within the timeout."""

from __future__ import annotations

import asyncio
import base64
import gzip
import socket
import time
from collections.abc import Callable

import pytest

from llmctl.models import ModelClient
from llmctl.types import CallResult, ModelSpec
from tests.models.rawserver import Answer, RawServer, Request, completion, reply


def call(base: str, n: int = 1, timeout: float = 2.0, retries: int = 0) -> tuple[list[CallResult], float]:
    spec = ModelSpec(name="raw", litellm_id="openai/m", api_base=base, timeout=timeout, retries=retries)

    async def main() -> list[CallResult]:
        async with ModelClient(transport="native", backoff_base=0.01) as client:
            assert client.route(spec).kind == "native"
            return [await client.complete(spec, [{"role": "user", "content": "ping"}]) for _ in range(n)]

    t0 = time.perf_counter()
    results = asyncio.run(main())
    return results, time.perf_counter() - t0


def test_content_length_keep_alive_reuses_one_connection(raw: Callable[[Answer], RawServer]) -> None:
    body = completion()
    server = raw(lambda r, s: s.sendall(reply("200 OK", [f"Content-Length: {len(body)}"], body)))
    results, _ = call(server.base, n=3)
    assert [r.output for r in results] == ["pong"] * 3
    assert server.connections == 1
    assert server.requests[0].method == "POST" and server.requests[0].path == "/v1/chat/completions"


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_bodiless_statuses_are_one_clear_error_without_a_hang(raw: Callable[[Answer], RawServer], status: str) -> None:
    server = raw(lambda r, s: s.sendall(reply(status, [])))
    (result,), elapsed = call(server.base, timeout=5)
    assert result.output is None and f"HTTP {status[:3]}" in (result.error or "")
    assert elapsed < 2


def test_gzip_body_is_decompressed(raw: Callable[[Answer], RawServer]) -> None:
    body = gzip.compress(completion("unzipped"))
    server = raw(
        lambda r, s: s.sendall(reply("200 OK", ["Content-Encoding: gzip", f"Content-Length: {len(body)}"], body))
    )
    (result,), _ = call(server.base)
    assert result.output == "unzipped"
    assert "gzip" in server.requests[0].headers.get("accept-encoding", "")


def test_chunked_body(raw: Callable[[Answer], RawServer]) -> None:
    body = completion("in chunks")

    def answer(r: Request, s: socket.socket) -> None:
        s.sendall(reply("200 OK", ["Transfer-Encoding: chunked"]))
        for i in range(0, len(body), 7):
            piece = body[i : i + 7]
            s.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        s.sendall(b"0\r\n\r\n")

    (result,), _ = call(raw(answer).base)
    assert result.output == "in chunks"


def test_connection_close_after_every_response(raw: Callable[[Answer], RawServer]) -> None:
    body = completion()

    def answer(r: Request, s: socket.socket) -> None:
        s.sendall(reply("200 OK", [f"Content-Length: {len(body)}", "Connection: close"], body))
        s.shutdown(socket.SHUT_RDWR)

    server = raw(answer)
    results, _ = call(server.base, n=3)
    assert [r.output for r in results] == ["pong"] * 3 and server.connections == 3


def test_http10_body_until_close(raw: Callable[[Answer], RawServer]) -> None:
    def answer(r: Request, s: socket.socket) -> None:
        s.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + completion("old"))
        s.shutdown(socket.SHUT_RDWR)

    server = raw(answer)
    results, _ = call(server.base, n=2)
    assert [r.output for r in results] == ["old", "old"]


def test_bare_lf_line_endings_end_without_a_hang(raw: Callable[[Answer], RawServer]) -> None:
    body = completion("lf")
    server = raw(lambda r, s: s.sendall(f"HTTP/1.1 200 OK\nContent-Length: {len(body)}\n\n".encode() + body))
    (result,), elapsed = call(server.base, timeout=5)
    assert result.output == "lf" or "connection error" in (result.error or "")
    assert elapsed < 2


def test_slowloris_headers_time_out(raw: Callable[[Answer], RawServer]) -> None:
    def answer(r: Request, s: socket.socket) -> None:
        s.sendall(b"HTTP/1.1 200 OK\r\n")
        for i in range(100):
            s.sendall(f"X-Slow-{i}: a\r\n".encode())
            time.sleep(0.1)

    (result,), elapsed = call(raw(answer).base, timeout=1)
    assert result.output is None and "timeout after 1s" in (result.error or "")
    assert elapsed < 3


def test_header_line_over_the_cap_is_an_error(raw: Callable[[Answer], RawServer]) -> None:
    body = completion()
    server = raw(
        lambda r, s: s.sendall(reply("200 OK", ["X-Big: " + "a" * 70_000, f"Content-Length: {len(body)}"], body))
    )
    (result,), elapsed = call(server.base)
    assert result.output is None and "connection error" in (result.error or "") and elapsed < 2


def test_a_50_mb_body_is_refused_not_read(raw: Callable[[Answer], RawServer]) -> None:
    size = 50 << 20
    chunk = b" " * (1 << 20)

    def answer(r: Request, s: socket.socket) -> None:
        s.sendall(reply("200 OK", ["Transfer-Encoding: chunked"]))
        for _ in range(size // len(chunk)):
            s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")

    (result,), elapsed = call(raw(answer).base, timeout=10)
    assert result.output is None and "larger than 32 MiB" in (result.error or "") and result.retries == 0
    assert elapsed < 10


def test_307_redirect_keeps_the_post_and_its_body(raw: Callable[[Answer], RawServer]) -> None:
    body = completion("moved")

    def answer(r: Request, s: socket.socket) -> None:
        if r.path == "/v1/chat/completions":
            s.sendall(reply("307 Temporary Redirect", ["Location: /v2/chat/completions", "Content-Length: 0"]))
        else:
            s.sendall(reply("200 OK", [f"Content-Length: {len(body)}"], body))

    server = raw(answer)
    (result,), _ = call(server.base)
    assert result.output == "moved"
    first, second = server.requests
    assert second.method == "POST" and second.path == "/v2/chat/completions" and second.body == first.body


def test_url_credentials_become_an_authorization_header(raw: Callable[[Answer], RawServer]) -> None:
    body = completion()
    server = raw(lambda r, s: s.sendall(reply("200 OK", [f"Content-Length: {len(body)}"], body)))
    (result,), _ = call(f"http://alice:s%40cret@127.0.0.1:{server.port}/v1")
    assert result.output == "pong"
    headers = server.requests[0].headers
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"alice:s@cret").decode()


def test_url_credentials_and_a_key_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmctl.errors import InputError

    monkeypatch.setenv("LLMCTL_TEST_RAW_KEY", "sk-raw-1234567890")
    spec = ModelSpec(
        name="both", litellm_id="openai/m", api_base="http://u:p@127.0.0.1:9/v1", api_key_env="LLMCTL_TEST_RAW_KEY"
    )
    with pytest.raises(InputError, match="credentials in the URL"):
        ModelClient(transport="native").route(spec)


def test_requests_name_llmctl_and_take_aiohttp_header_fast_path(raw: Callable[[Answer], RawServer]) -> None:
    """A User-Agent of llmctl's own (not aiohttp's, not none): skipping aiohttp's automatic
    User-Agent would send every request through its slow per-request header path."""
    from llmctl.models._native import _new_session

    body = completion()
    server = raw(lambda r, s: s.sendall(reply("200 OK", [f"Content-Length: {len(body)}"], body)))
    (result,), _ = call(server.base)
    assert result.output == "pong"
    assert server.requests[0].headers["user-agent"] == "llmctl"

    async def skipped() -> frozenset[str]:
        session = _new_session(0, force_close=False)
        try:
            return frozenset(session.skip_auto_headers)
        finally:
            await session.close()

    assert asyncio.run(skipped()) == frozenset()
