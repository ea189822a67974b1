"""The viewer in a real headless Chromium, driven over the DevTools protocol.

The runs page lists the store's runs, the matrix shows the right cells, a click on a
review button writes the labels file, and a model output holding `<script>` is shown as
text and runs nothing (while the viewer's own vendored script does run under the CSP).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.labelled_project import read_jsonl
from tests.reports.test_report_browser import CHROMIUM

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium) - browser check skipped"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(viewed):
    import uvicorn

    from llmctl.viewer import create_app

    root, store, _first, _second = viewed
    port = _free_port()
    config = uvicorn.Config(create_app(store, root), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", viewed
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
                self.call = call  # for steps that need more of the protocol (viewport, screenshots)
                return await steps(goto, evaluate, wait_for)


def test_viewer_in_headless_chromium(server, tmp_path: Path) -> None:
    base, (root, _store, first, second) = server
    browser = Browser(tmp_path / "profile")

    async def steps(goto, evaluate, wait_for):  # type: ignore[no-untyped-def]
        await goto(base + "/")
        await wait_for("document.body.getAttribute('data-viewer-ready') === '1'")
        runs = await evaluate("[...document.querySelectorAll('#runs tr[data-run]')].map(r => r.dataset.run)")
        assert runs == [second, first]

        url = f"{base}/runs/{second}"
        await goto(url)
        await wait_for("document.body.getAttribute('data-viewer-ready') === '1'")  # our own script ran
        cells = await evaluate(
            "Object.fromEntries([...document.querySelectorAll('#matrix tr[data-case]')]"
            ".map(r => [r.dataset.case, r.querySelector('[data-cell]').dataset.cell]))"
        )
        assert cells == {f"c{i}": ("pass" if i in (0, 1, 2, 4) else "fail") for i in range(10)}
        # the hostile output is text, and it ran nothing
        assert await evaluate("document.title") == f"llmctl view: run {second}"
        assert await evaluate("document.body.hasAttribute('data-pwned')") is False
        shown = await evaluate("document.querySelector('tr[data-case=c9] pre.output').textContent")
        assert shown.startswith("<script>document.title='PWNED'")
        assert await evaluate("document.querySelectorAll('script').length") == 1

        # a review click writes the labels file and the page shows it
        await evaluate(
            "document.querySelector('tr[data-case=c9] input[name=note]').value = 'script, not an answer';"
            "document.querySelector('tr[data-case=c9] button[data-label=fail]').click()"
        )
        await wait_for("document.querySelector('tr[data-case=c9] [data-human=fail]') !== null")

    try:
        asyncio.run(browser.session(steps))
    finally:
        browser.close()
    [row] = read_jsonl(root / "evalsets" / "labels" / "support.jsonl")
    assert (row["case_id"], row["label"], row["note"]) == ("c9", "fail", "script, not an answer")
