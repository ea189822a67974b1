"""The viewer in a real headless Chromium, driven over the DevTools protocol.

The runs page lists the store's runs, the matrix shows the right cells, a click on a
review button writes the labels file, and a model output holding `<script>` is shown as
text and runs nothing (while the viewer's own vendored script does run under the CSP).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.browser import Browser, needs_chromium, serve
from tests.labelled_project import read_jsonl

pytestmark = needs_chromium


@pytest.fixture
def server(viewed):
    from llmctl.viewer import create_app

    root, store, _first, _second = viewed
    with serve(create_app(store, root)) as base:
        yield base, viewed


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
