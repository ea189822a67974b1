"""`eval --baseline`: both sides run interleaved in one pool; identical requests are made once;
a comparison killed mid-way resumes both sides."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, git, init_repo, llmctl, write
from tests.reliability.helpers import popen_eval, run_cli


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


def _prompt(user: str) -> dict[str, Any]:
    return {"inputs": {"q": {"type": "string"}}, "messages": [{"role": "user", "content": user}]}


def _project(root: Path, base_url: str, n: int, **cfg: Any) -> None:
    write(
        root,
        {
            "llmctl.yaml": config(base_url, **cfg),
            "prompts/qa.yaml": _prompt("Old: {{ q }}"),
            "evalsets/qa.yaml": {
                "prompt": "qa",
                "models": ["fake"],
                "evaluators": [{"type": "icontains", "value": "yes"}],
                "cases": [{"id": f"c{i:03d}", "vars": {"q": f"question {i}"}} for i in range(n)],
            },
        },
    )
    init_repo(root)


def _runs(root: Path) -> dict[str, dict[str, Any]]:
    store = Store(root / ".llmctl" / "llmctl.duckdb")
    return {str(r.config["role"]): r for r in store.list_runs()}


def test_both_sides_are_called_interleaved(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    order: list[str] = []

    def record(messages: list[dict[str, Any]]) -> None:
        order.append("old" if "Old:" in str(messages[-1]["content"]) else "new")

    with FakeOpenAIServer(default="yes", latency_ms=5, responder=record) as srv:
        _project(tmp_path, srv.base_url, 40, concurrency=2)
        write(tmp_path, {"prompts/qa.yaml": _prompt("New: {{ q }}")})
        code, out = llmctl(tmp_path, "eval", "--baseline", "main", "--no-cache", capsys=capsys)
    assert code == 0, out
    assert sorted(order) == ["new"] * 40 + ["old"] * 40
    # Not one side after the other: each half of the run holds calls of both sides.
    first, second = order[:40], order[40:]
    assert 10 <= first.count("old") <= 30 and 10 <= second.count("old") <= 30, order
    assert "qa (baseline + candidate)" in out


def test_an_unchanged_prompt_is_called_once_for_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(default="yes", latency_ms=20) as srv:
        _project(tmp_path, srv.base_url, 30)
        # Only the evaluator changes: the requests of both sides are identical.
        write(
            tmp_path,
            {
                "evalsets/qa.yaml": {
                    "prompt": "qa",
                    "models": ["fake"],
                    "evaluators": [{"type": "icontains", "value": "ye"}],
                    "cases": [{"id": f"c{i:03d}", "vars": {"q": f"question {i}"}} for i in range(30)],
                }
            },
        )
        code, out = llmctl(tmp_path, "eval", "--baseline", "main", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 30, srv.requests
    runs = _runs(tmp_path)
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    base, cand = store.outcomes(runs["baseline"].id), store.outcomes(runs["candidate"].id)
    assert len(base) == len(cand) == 30
    # each pair: one fresh call, one shared (recorded as cached, so latency compares fresh calls only)
    assert sum(o.cached for o in base) + sum(o.cached for o in cand) == 30
    assert all(o.output == "yes" for o in base + cand)


def test_a_comparison_killed_midway_resumes_both_sides(tmp_path: Path) -> None:
    with FakeOpenAIServer(default="yes", latency_ms=40) as srv:
        _project(tmp_path, srv.base_url, 150, concurrency=4)
        write(tmp_path, {"prompts/qa.yaml": _prompt("New: {{ q }}")})
        git(tmp_path, "commit", "-qam", "new prompt")
        proc = popen_eval(tmp_path, "--baseline", "HEAD~1", "--no-cache")
        deadline = time.monotonic() + 30
        # ~1 s of calls: past the writer's first flush (every 0.5 s), far from the end (300 calls)
        while srv.requests < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        runs = _runs(tmp_path)
        assert runs["baseline"].status == runs["candidate"].status == "running"
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        stored = sum(len(store.finished_keys(str(r.id))) for r in runs.values())
        assert 0 < stored < 300
        before = srv.requests
        result = run_cli(tmp_path, "eval", "--resume", str(runs["candidate"].id))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "gate PASSED" in result.stdout
        # exactly what was not stored before the kill is called again, on both sides
        assert srv.requests - before == 300 - stored, (before, stored, srv.requests)
    runs = _runs(tmp_path)
    assert runs["baseline"].status == runs["candidate"].status == "completed"
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    assert len(store.outcomes(runs["baseline"].id)) == len(store.outcomes(runs["candidate"].id)) == 150
