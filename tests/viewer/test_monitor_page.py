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
