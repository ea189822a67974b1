"""Stale keep-alive connections never cost a case (`retries: 0`): a plain `http.server` mock
(HTTP/1.0: it closes after every answer), an HTTP/1.1 server that closes idle connections
after 20 ms without saying so (a keep-alive timeout), and one that closes each connection at
once after its answer without `Connection: close`."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.project import llmctl
from tests.reliability.helpers import make_project, result_rows, store


def _handler(kind: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0" if kind == "http10" else "HTTP/1.1"
        # idle: a connection with no new request for 20 ms is closed silently (a keep-alive timeout)
        timeout = 0.02 if kind == "idle" else None

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            question = body["messages"][-1]["content"]
            payload = json.dumps(
                {
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": f"yes: {question}"}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2},
                }
            ).encode()
            if kind == "idle":
                time.sleep(random.uniform(0, 0.06))  # some connections wait longer than 20 ms in the pool
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            if kind == "silent":
                self.close_connection = True  # HTTP/1.1, closed at once without `Connection: close`

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(
    params=[
        "http10",
        "idle",
        "silent",
    ]
)
def closing_server(request: pytest.FixtureRequest) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(request.param))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("transport", ["native", pytest.param("litellm", marks=pytest.mark.slow)])
def test_server_closing_after_every_answer_fails_no_case(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    closing_server: str,
    transport: str,
    request: pytest.FixtureRequest,
) -> None:
    if transport == "litellm" and request.node.callspec.params["closing_server"] in ("idle", "silent"):
        # The native transport re-sends a request whose reused connection closed before any
        # byte of an answer (llmctl.models._native). litellm's transport neither skips a pooled
        # connection whose close is waiting nor says whether a failed request went out on a
        # reused connection, so its "Server disconnected" cannot be told from a server that
        # dropped a request it received on a new one; it stays an ordinary retryable error.
        request.applymarker(pytest.mark.xfail(strict=False, reason="litellm: a close racing a reused connection"))
    monkeypatch.setenv("LLMCTL_TRANSPORT", transport)
    n = 50
    make_project(tmp_path, closing_server, n, retries=0, concurrency=4)
    code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
    assert code == 0, out[-3000:]
    rows = result_rows(tmp_path, store(tmp_path).list_runs()[0].id)
    assert len(rows) == n
    assert [r[2] for r in rows if r[2] is not None] == []
