"""A real headless Chromium for tests, driven over the DevTools protocol, and a viewer app served
on loopback for it to load (tests/viewer, tests/reports, tests/traces use them).

Debian's `chromium` package; where it is missing the browser tests skip with the install command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium) - browser check skipped"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


class Browser:
    """A headless Chromium and one page, over the DevTools protocol (aiohttp's websocket client)."""

    def __init__(self, profile: Path) -> None:
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        self.port = None
        while self.port is None:
            assert time.monotonic() < deadline, "chromium printed no DevTools address"
            line = self.proc.stderr.readline() if self.proc.stderr else ""
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
            elif not line and self.proc.poll() is not None:
                raise AssertionError("chromium exited")
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    async def session(self, steps):  # type: ignore[no-untyped-def]
        import aiohttp

        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{self.port}/json/list") as resp:
                targets = await resp.json(content_type=None)
            page = next(t for t in targets if t.get("type") == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:

                async def call(method: str, **params):  # type: ignore[no-untyped-def]
                    self._id += 1
                    my = self._id
                    await ws.send_str(json.dumps({"id": my, "method": method, "params": params}))
                    while True:
                        msg = json.loads((await ws.receive()).data)
                        if msg.get("id") == my:
                            assert "error" not in msg, msg
                            return msg.get("result", {})
                        if "method" in msg:
                            self.events.append(msg)  # console calls, exceptions, log entries

                async def evaluate(expr: str):  # type: ignore[no-untyped-def]
                    res = await call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
                    return res.get("result", {}).get("value")

                async def goto(url: str) -> None:
                    await call("Page.navigate", url=url)
                    await wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

                async def wait_for(expr: str, timeout: float = 20) -> None:
                    end = time.monotonic() + timeout
                    while not await evaluate(f"!!({expr})"):
                        assert time.monotonic() < end, f"timed out waiting for {expr}"
                        await asyncio.sleep(0.1)

                await call("Page.enable")
                await call("Runtime.enable")
                await call("Log.enable")
                self.call = call  # for steps that need more of the protocol (viewport, screenshots)
                return await steps(goto, evaluate, wait_for)


def page_errors(events: list[dict[str, Any]]) -> list[str]:
    """What a page reported as going wrong: uncaught exceptions, console.error calls and error
    log entries (blocked by the CSP, failed loads), a missing favicon aside."""
    found = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(json.dumps(params.get("args", []))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            if "favicon" not in str(entry.get("url", "")):
                found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
    return found
