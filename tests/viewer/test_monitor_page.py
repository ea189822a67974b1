"""The viewer's /monitor page and /api/monitor over imported traces: charts by version, markup escaped."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from llmctl.store import Store
from llmctl.viewer._app import create_app
from tests.cli.clirun import run
from tests.traces.conftest import exchange, project, write_traffic  # noqa: F401


def test_monitor_page_and_api(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    path = write_traffic(project / "t.jsonl", drift_days=7, latency_factor=1.6)
    hostile = exchange(
        99999, __import__("datetime").datetime(2026, 11, 4), latency=5.0, model="<script>alert(1)</script>"
    )
    with path.open("a") as fh:
        fh.write(json.dumps(hostile) + "\n")
    assert run(["traces", "import", str(path)], capsys, monkeypatch)[0] == 0
    client = TestClient(create_app(Store(project / ".llmctl" / "llmctl.duckdb"), project), base_url="http://127.0.0.1")
    page = client.get("/monitor")
    assert page.status_code == 200
    assert "<polyline" in page.text and "p95 latency" in page.text and "ALARM" in page.text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    doc = client.get("/api/monitor?window=7d").json()
    assert doc["alarms"] >= 1 and {g["model"] for g in doc["groups"]} >= {"gpt-4o-mini"}


def test_monitor_page_charts_evaluator_pass_rate_by_version(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from datetime import datetime, timedelta

    (project / "llmctl.yaml").write_text(
        "store: .llmctl/llmctl.duckdb\ndefault_models: [echo]\nmonitor:\n  evaluators:\n"
        "    - {type: icontains, value: summary}\n    - {type: judge, rubric: 'is it short?', model: echo}\n",
        encoding="utf-8",
    )
    hostile = "<img src=x onerror=alert(1)>"
    lines = []
    for day in range(20):
        for k in range(6):
            ts = datetime(2026, 10, 1) + timedelta(days=day, hours=k)
            v2 = day >= 10
            lines.append(
                exchange(
                    day * 10 + k,
                    ts,
                    latency=300.0,
                    version=hostile if v2 else "v1",
                    output="no good" if v2 else None,  # v1: "summary of ...", passes icontains
                )
            )
    path = project / "t.jsonl"
    path.write_text("".join(json.dumps(doc) + "\n" for doc in lines), encoding="utf-8")
    assert run(["traces", "import", str(path)], capsys, monkeypatch)[0] == 0
    client = TestClient(create_app(Store(project / ".llmctl" / "llmctl.duckdb"), project), base_url="http://127.0.0.1")
    doc = client.get("/api/monitor?window=7d&reference=28d").json()
    [group] = doc["groups"]
    rates = group["daily_pass_rates"]
    assert rates["2026-10-01"] == {"v1": {"icontains": [6, 6]}}
    assert rates["2026-10-20"] == {hostile: {"icontains": [0, 6]}}
    assert doc["evaluators_not_charted"] == ["judge"]  # calls a model: not on every page load
    page = client.get("/monitor").text
    assert 'data-chart="pass_rate:icontains"' in page
    chart = page.split('data-chart="pass_rate:icontains"', 1)[1].split("</figure>", 1)[0]
    # rate 1.0 at the top (y 15), 0.0 at the bottom (y 105): one line per version
    assert 'data-version="v1"' in chart and ",15.0" in chart and ",105.0" in chart
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in chart
    assert "Not charted here" in page and "judge" in page
