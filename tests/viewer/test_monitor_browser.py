"""The viewer's /monitor page in a real headless Chromium (issue 24): the charts of cost, latency,
error rate and evaluator pass rate are drawn, one line per prompt version; nothing goes wrong in
the page; a hostile prompt version or model name is shown as text and runs nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

from llmctl.store import Store
from llmctl.viewer import create_app
from tests.browser import Browser, needs_chromium, page_errors, serve
from tests.cli.clirun import run
from tests.traces.conftest import exchange, project  # noqa: F401

pytestmark = needs_chromium

HOSTILE_VERSION = "<img src=x onerror=window.__pwned=1>"
HOSTILE_MODEL = "<script>window.__pwned=2</script>"


def test_monitor_page_draws_its_charts_in_chromium(project: Path, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    (project / "llmctl.yaml").write_text(
        "store: .llmctl/llmctl.duckdb\ndefault_models: [echo]\nmonitor:\n  evaluators:\n"
        "    - {type: icontains, value: summary}\n",
        encoding="utf-8",
    )
    lines = []
    for day in range(20):
        for k in range(8):
            ts = datetime(2026, 10, 1) + timedelta(days=day, hours=k)
            v2 = day >= 10  # the new version: slower, erring, failing the evaluator
            lines.append(
                exchange(
                    day * 10 + k,
                    ts,
                    latency=480.0 if v2 else 300.0,
                    error=v2 and k == 0,
                    version=HOSTILE_VERSION if v2 else "v1",
                    output="no good" if v2 else None,
                )
            )
    lines.append(exchange(9999, datetime(2026, 10, 15), latency=200.0, model=HOSTILE_MODEL))
    path = project / "t.jsonl"
    path.write_text("".join(json.dumps(doc) + "\n" for doc in lines), encoding="utf-8")
    assert run(["traces", "import", str(path)], capsys, monkeypatch)[0] == 0

    browser = Browser(tmp_path / "profile")

    async def steps(goto, evaluate, wait_for):  # type: ignore[no-untyped-def]
        await goto(base + "/monitor?window=7d&reference=28d")
        await wait_for("document.querySelectorAll('figure[data-chart]').length > 0")
        charts = await evaluate(
            """[...document.querySelectorAll('figure[data-chart]')].map(f => ({
                key: f.dataset.chart,
                lines: [...f.querySelectorAll('polyline')].map(p => ({
                    version: p.dataset.version,
                    points: p.points.numberOfItems,
                    width: p.getBBox().width,
                })),
            }))"""
        )
        by_key = {}
        for chart in charts:
            by_key.setdefault(chart["key"], []).append(chart["lines"])
        for key in ("cost_per_1k", "p95_ms", "error_rate", "calls", "pass_rate:icontains"):
            assert key in by_key, (key, sorted(by_key))
        # summarize x gpt-4o-mini: one line per version (the hostile name is the line's text label)
        summarize = max(by_key["p95_ms"], key=len)
        drawn = {ln["version"]: ln for ln in summarize}
        assert set(drawn) == {"v1", HOSTILE_VERSION}, drawn
        assert all(ln["points"] >= 5 and ln["width"] > 0 for ln in drawn.values()), drawn
        rates = max(by_key["pass_rate:icontains"], key=len)
        assert {ln["version"] for ln in rates} == {"v1", HOSTILE_VERSION}, rates
        # the names are text: no element they describe exists, no script of theirs ran
        assert await evaluate("document.querySelectorAll('img[src=x], main script').length") == 0
        assert await evaluate("window.__pwned === undefined")
        text = await evaluate("document.body.innerText")
        assert HOSTILE_MODEL in text and HOSTILE_VERSION in text, text
        assert "latency_p95_ms" in text and "error_rate" in text, text  # the checks' table is there too
        return True

    try:
        with serve(create_app(Store(project / ".llmctl" / "llmctl.duckdb"), project)) as base:
            assert asyncio.run(browser.session(steps))
    finally:
        browser.close()
    assert page_errors(browser.events) == []
