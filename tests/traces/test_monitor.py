"""`llmctl monitor`: window against reference, statistical tests, exit codes, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmctl.traces._monitor import parse_duration, sparkline
from tests.cli.clirun import run
from tests.traces.conftest import write_traffic


def _import(path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = run(["traces", "import", str(path)], capsys, monkeypatch)
    assert code == 0, err


def test_no_change_traffic_passes(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _import(write_traffic(project / "t.jsonl"), capsys, monkeypatch)
    code, out, err = run(["monitor", "--json"], capsys, monkeypatch)
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["alarms"] == 0 and doc["passed"]
    (group,) = doc["groups"]
    assert group["prompt"] == "summarize" and group["model"] == "gpt-4o-mini"
    assert group["window"]["calls"] == 7 * 40 and group["reference"]["calls"] == 28 * 40
    tested = {c["metric"] for c in group["checks"] if c["p_value"] is not None}
    assert tested == {"error_rate", "latency_p95_ms", "cost_per_1k"}


def test_latency_drift_alarms_with_exit_1(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _import(write_traffic(project / "t.jsonl", drift_days=7, latency_factor=1.6), capsys, monkeypatch)
    code, out, _ = run(["monitor", "--json"], capsys, monkeypatch)
    assert code == 1
    checks = {c["metric"]: c for c in json.loads(out)["groups"][0]["checks"]}
    assert checks["latency_p95_ms"]["alarm"] and checks["latency_p95_ms"]["p_value"] < 0.001
    assert not checks["error_rate"]["alarm"]
    code, out, _ = run(["monitor"], capsys, monkeypatch)
    assert code == 1 and "ALARM" in out and "latency_p95_ms" in out


def test_error_rate_drift_and_until(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _import(write_traffic(project / "t.jsonl", drift_days=7, drift_error_rate=0.15), capsys, monkeypatch)
    code, out, _ = run(["monitor", "--json"], capsys, monkeypatch)
    assert code == 1
    assert {c["metric"] for c in json.loads(out)["groups"][0]["checks"] if c["alarm"]} == {"error_rate"}
    # a window that ends before the drift began sees none
    code, out, _ = run(["monitor", "--json", "--until", "2026-10-25T00:00:00Z"], capsys, monkeypatch)
    assert code == 0, out


def test_small_change_within_threshold_passes(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _import(write_traffic(project / "t.jsonl", per_day=300, drift_days=7, latency_factor=1.08), capsys, monkeypatch)
    code, out, _ = run(["monitor", "--json"], capsys, monkeypatch)
    checks = {c["metric"]: c for c in json.loads(out)["groups"][0]["checks"]}
    assert code == 0
    assert checks["latency_p95_ms"]["significant"] and not checks["latency_p95_ms"]["alarm"]


def test_evaluators_from_config(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (project / "llmctl.yaml").write_text(
        "store: .llmctl/llmctl.duckdb\nmonitor:\n  sample: 50\n  evaluators:\n    - {type: pii}\n    - {type: icontains, value: summary}\n",
        encoding="utf-8",
    )
    _import(write_traffic(project / "t.jsonl"), capsys, monkeypatch)
    code, out, err = run(["monitor", "--json"], capsys, monkeypatch)
    assert code == 0, err
    group = json.loads(out)["groups"][0]
    assert group["window"]["pass_rate:pii"] == 1.0 and group["window"]["pass_rate:icontains"] == 1.0
    assert any(c["metric"] == "pass_rate:pii" and c["p_value"] is not None for c in group["checks"])


@pytest.mark.parametrize(
    "text", ["monitor: {confidence: 2}", "monitor: {latency: {p99: 1}}", "monitor: {evaluators: [{type: nope}]}"]
)
def test_bad_monitor_config_is_exit_2(project: Path, capsys, monkeypatch, text: str) -> None:  # type: ignore[no-untyped-def]
    (project / "llmctl.yaml").write_text("store: .llmctl/llmctl.duckdb\n" + text + "\n", encoding="utf-8")
    code, _, err = run(["monitor"], capsys, monkeypatch)
    assert code == 2 and "llmctl.yaml:2" in err


def test_empty_store_and_bad_durations(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["monitor"], capsys, monkeypatch)
    assert code == 0 and "no traces" in out
    code, _, err = run(["monitor", "--window", "seven"], capsys, monkeypatch)
    assert code == 2 and "--window" in err
    assert parse_duration("36h", "--window").total_seconds() == 36 * 3600
    assert sparkline([1, None, 3]) == "▁ █"


def test_lint_checks_monitor_evaluators(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (project / "llmctl.yaml").write_text(
        "store: .llmctl/llmctl.duckdb\nmonitor:\n  evaluators:\n    - {type: pii, kinds: [emial]}\n", encoding="utf-8"
    )
    code, out, err = run(["lint"], capsys, monkeypatch)
    assert code == 2 and "llmctl.yaml:4" in out + err and "emial" in out + err
