"""Fixtures of the traces tests: a project folder with llmctl.yaml, and exchange files."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "prompts").mkdir(parents=True)
    (root / "evalsets").mkdir()
    (root / "llmctl.yaml").write_text("store: .llmctl/llmctl.duckdb\ndefault_models: [echo]\n", encoding="utf-8")
    (root / "prompts" / "summarize.yaml").write_text(
        "name: summarize\nmodel: echo\ninputs:\n  ticket: {type: string}\n"
        "messages:\n  - {role: system, content: You summarize tickets.}\n  - {role: user, content: '{{ ticket }}'}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(root)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    return root


def exchange(
    i: int,
    ts: datetime,
    *,
    latency: float,
    error: bool = False,
    model: str = "gpt-4o-mini",
    prompt: str = "summarize",
    version: str = "v1",
    completion_tokens: int = 50,
    output: str | None = None,
) -> dict[str, Any]:
    ticket = f"ticket number {i}"
    response: dict[str, Any] = (
        {"error": {"message": "429 rate limited"}}
        if error
        else {
            "id": f"chatcmpl-{i}",
            "model": model,
            "choices": [
                {"message": {"role": "assistant", "content": output or f"summary of {ticket}"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": completion_tokens},
        }
    )
    return {
        "request": {
            "model": model,
            "messages": [{"role": "system", "content": "You summarize tickets."}, {"role": "user", "content": ticket}],
        },
        "response": response,
        "latency_ms": latency,
        "timestamp": ts.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z"),
        "metadata": {"llmctl_prompt": prompt, "llmctl_version": version, "llmctl_vars": {"ticket": ticket}},
    }


def write_traffic(
    path: Path,
    *,
    days: int = 35,
    per_day: int = 40,
    seed: int = 1,
    drift_days: int = 0,
    latency_factor: float = 1.0,
    error_rate: float = 0.02,
    drift_error_rate: float | None = None,
    start: datetime | None = None,
) -> Path:
    """`days` days of exchanges; the last `drift_days` days slower by `latency_factor` or erring more."""
    rng = random.Random(seed)
    start = start or datetime(2026, 10, 1)
    lines = []
    i = 0
    for day in range(days):
        drifted = day >= days - drift_days
        for k in range(per_day):
            ts = start + timedelta(days=day, seconds=k * 86400 // per_day + 1)
            lat = rng.lognormvariate(6.0, 0.3) * (latency_factor if drifted else 1.0)
            rate = drift_error_rate if drifted and drift_error_rate is not None else error_rate
            lines.append(json.dumps(exchange(i, ts, latency=lat, error=rng.random() < rate)))
            i += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
