"""The viewer's pages, the HTML report and the PR comment in headless Chromium, at a desktop
(1400x900) and a phone (390x844) viewport: no page scrolls sideways, and all three speak one
visual language (the same pass/fail/error colours, verdict banner and type) (issue 23 item 8).

Screenshots go to the test's folder, and to $LLMCTL_SCREENSHOTS when set (to look at them).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, Browser, serve

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium) - browser check skipped"
)

VIEWPORTS = {"desktop": (1400, 900, False), "phone": (390, 844, True)}

# what a page shows for a failed check, a passed one and the verdict banner: the same everywhere
STYLE_PROBE = """(() => {
  const css = (sel, prop) => { const el = document.querySelector(sel); return el ? getComputedStyle(el)[prop] : null; };
  return {fail: css('.FAIL, .badge.fail', 'color') === 'rgb(255, 255, 255)' ? css('.badge.fail', 'backgroundColor')
                 : css('.FAIL', 'color'),
          banner_fail: css('header.verdict.fail', 'backgroundColor'),
          font: getComputedStyle(document.body).fontFamily};
})()"""

OVERFLOW = """(() => {
  const w = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= w + 1) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {  // inside a box that scrolls on its own: fine
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll') && p.getBoundingClientRect().right <= w + 1) return false;
    }
    return true;
  }).slice(0, 5).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right));
  return {scroll: document.documentElement.scrollWidth, width: w, wide};
})()"""


@pytest.fixture
def agent_server(agent):
    from llmctl.viewer import create_app

    root, store, _first, _second = agent
    with serve(create_app(store, root)) as base:
        yield base, agent


def _reports(root: Path, second: str, out: Path, capsys) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """The HTML report of the second run (`llmctl report`), and its Markdown PR comment rendered
    as GitHub renders one (tables that scroll in their own box)."""
    from markdown_it import MarkdownIt

    from tests.e2e.project import llmctl

    html, md = out / "report.html", out / "report.md"
    code, text = llmctl(root, "report", second, "-o", str(html), "-o", str(md), capsys=capsys)
    assert code == 0, text
    comment = out / "comment.html"
    body = MarkdownIt("commonmark").enable("table").render(md.read_text(encoding="utf-8"))
    comment.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        "<style>body{font:14px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;"
        "margin:16px;max-width:880px}table{display:block;overflow-x:auto;border-collapse:collapse}"
        "td,th{border:1px solid #d0d7de;padding:4px 8px}pre{overflow-x:auto}</style></head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return {"report": html, "comment": comment}


def test_pages_fit_a_phone_and_a_desktop_in_one_visual_language(agent_server, tmp_path: Path, capsys) -> None:
    base, (root, _store, first, second) = agent_server
    files = _reports(root, second, tmp_path, capsys)
    pages = {
        "runs": f"{base}/",
        "run": f"{base}/runs/{second}",
        "case": f"{base}/runs/{first}/cases/cancel-after-checking",
        "compare": f"{base}/compare/{first}/{second}",
        "report": files["report"].as_uri(),
        "comment": files["comment"].as_uri(),
    }
    browser = Browser(tmp_path / "profile")
    shots: dict[str, bytes] = {}
    layout: dict[str, dict] = {}
    styles: dict[str, dict] = {}

    async def steps(goto, evaluate, wait_for):  # type: ignore[no-untyped-def]
        for vp, (w, h, mobile) in VIEWPORTS.items():
            await browser.call(
                "Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=1, mobile=mobile
            )
            for name, url in pages.items():
                await goto(url)
                await wait_for("document.fonts.status === 'loaded'")
                layout[f"{name}@{vp}"] = await evaluate(OVERFLOW)
                if vp == "desktop":
                    styles[name] = await evaluate(STYLE_PROBE)
                shot = await browser.call("Page.captureScreenshot", format="png")
                shots[f"{name}-{w}x{h}"] = base64.b64decode(shot["data"])

    try:
        asyncio.run(browser.session(steps))
    finally:
        browser.close()
    keep = os.environ.get("LLMCTL_SCREENSHOTS")
    for name, data in shots.items():
        (tmp_path / f"{name}.png").write_bytes(data)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(tmp_path / f"{name}.png", Path(keep) / f"{name}.png")
    assert len(shots) == 12 and all(data[:8] == b"\x89PNG\r\n\x1a\n" for data in shots.values())
    # nothing scrolls sideways: a wide table scrolls inside its own box, the page does not
    for key, m in layout.items():
        assert m["scroll"] <= m["width"] and not m["wide"], (key, json.dumps(m))
    # one visual language: the viewer's failing badge, the report's FAIL and its banner share one red
    red = styles["report"]["banner_fail"]
    assert red and styles["report"]["fail"] == red, styles
    assert styles["run"]["banner_fail"] == red and styles["run"]["fail"] == red, styles
    assert styles["run"]["font"] == styles["report"]["font"], styles
