"""`llmctl traces to-cases`: sampling, stratification, redaction, duplicates, and the evalset then lints and evals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from llmctl.errors import InputError
from llmctl.traces._cases import _allocate
from llmctl.traces._where import parse_where
from tests.cli.clirun import run
from tests.traces.conftest import exchange, write_traffic


def _import(path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = run(["traces", "import", str(path)], capsys, monkeypatch)
    assert code == 0, err


def test_failing_traces_make_a_regression_evalset_that_lints_and_evals(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _import(write_traffic(project / "t.jsonl", days=3, per_day=50, error_rate=0.2), capsys, monkeypatch)
    code, out, err = run(
        ["traces", "to-cases", "--evalset", "regress", "--prompt", "summarize", "--where", "error", "-n", "5"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert "5 case(s) added" in out
    doc = yaml.safe_load((project / "evalsets" / "regress.yaml").read_text())
    assert doc["prompt"] == "summarize" and "redacted" in doc["description"]
    assert len(doc["cases"]) == 5
    assert all(c["metadata"]["outcome"] == "error" and set(c["vars"]) == {"ticket"} for c in doc["cases"])
    assert all(c["id"].startswith("trace-") for c in doc["cases"])
    code, _out, err = run(["lint"], capsys, monkeypatch)
    assert code == 0, err
    code, out, err = run(["eval", "regress"], capsys, monkeypatch)
    assert code == 0, out + err
    # again: the cases already there are duplicates, 5 other failing traces are added
    code, out, _ = run(
        ["traces", "to-cases", "--evalset", "regress", "--where", "error", "-n", "5"], capsys, monkeypatch
    )
    assert code == 0 and "5 duplicate(s) dropped" in out
    ids = [c["id"] for c in yaml.safe_load((project / "evalsets" / "regress.yaml").read_text())["cases"]]
    assert len(ids) == len(set(ids)) == 10


def test_seeded_and_stratified(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 10, 1)
    lines = [
        exchange(i, start + timedelta(minutes=i), latency=100, version="v1" if i % 4 else "v2", error=i % 10 == 0)
        for i in range(200)
    ]
    (project / "t.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    _import(project / "t.jsonl", capsys, monkeypatch)
    ids = []
    for name in ("a", "b"):
        code, _out, err = run(
            ["traces", "to-cases", "--evalset", name, "--prompt", "summarize", "-n", "20", "--seed", "3"],
            capsys,
            monkeypatch,
        )
        assert code == 0, err
        cases = yaml.safe_load((project / "evalsets" / f"{name}.yaml").read_text())["cases"]
        ids.append([c["id"] for c in cases])
    assert ids[0] == ids[1] and len(ids[0]) == 20
    strata = {(c["metadata"]["version"], c["metadata"]["outcome"]) for c in cases}
    assert strata == {("v1", "ok"), ("v1", "error"), ("v2", "ok"), ("v2", "error")}


def test_pii_and_secrets_redacted_unless_no_redact(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    row = exchange(1, datetime(2026, 10, 1), latency=100)
    secret = "sk-proj-" + "A1b2C3d4" * 5
    ticket = f"Mail ana.lopez@example.com, card 4111 1111 1111 1111, key {secret}"
    row["metadata"]["llmctl_vars"] = {"ticket": ticket}
    (project / "t.jsonl").write_text(json.dumps(row) + "\n")
    _import(project / "t.jsonl", capsys, monkeypatch)
    run(["traces", "to-cases", "--evalset", "red", "--prompt", "summarize"], capsys, monkeypatch)
    text = (project / "evalsets" / "red.yaml").read_text()
    assert "ana.lopez@example.com" not in text and "4111 1111" not in text and "A1b2C3d4" not in text
    assert "[REDACTED:email]" in text and "[REDACTED:credit_card]" in text
    code, out, _ = run(
        ["traces", "to-cases", "--evalset", "raw", "--prompt", "summarize", "--no-redact"], capsys, monkeypatch
    )
    assert code == 0 and "NOT redacted" in out
    raw = (project / "evalsets" / "raw.yaml").read_text()
    assert "ana.lopez@example.com" in raw and "NOT redacted" in raw.splitlines()[0]


def test_messages_when_no_vars_and_prompt_needs_none(project: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (project / "prompts" / "chat.yaml").write_text(
        "name: chat\nmodel: echo\nmessages:\n  - {role: system, content: Be brief.}\n"
    )
    row = exchange(1, datetime(2026, 10, 1), latency=100, prompt="chat")
    del row["metadata"]["llmctl_vars"]
    row2 = exchange(2, datetime(2026, 10, 1), latency=100, prompt="summarize")
    del row2["metadata"]["llmctl_vars"]
    (project / "t.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(row2) + "\n")
    _import(project / "t.jsonl", capsys, monkeypatch)
    run(["traces", "to-cases", "--evalset", "chat", "--prompt", "chat"], capsys, monkeypatch)
    (case,) = yaml.safe_load((project / "evalsets" / "chat.yaml").read_text())["cases"]
    assert case["messages"] == [{"role": "user", "content": "ticket number 1"}]
    code, out, _ = run(["traces", "to-cases", "--evalset", "s", "--prompt", "summarize"], capsys, monkeypatch)
    assert code == 0 and "1 trace(s) skipped" in out
    assert run(["lint"], capsys, monkeypatch)[0] == 0


def test_where_language() -> None:
    row = {"model": "gpt-4o", "latency_ms": 2500.0, "error": None, "output": "request timed out"}
    never = lambda name: False  # noqa: E731
    assert parse_where("model == 'gpt-4o' and latency_ms > 2000").matches(row, never)
    assert not parse_where("error").matches(row, never)
    assert parse_where("not error and (output ~ 'time' or model != 'x')").matches(row, never)
    assert parse_where("failed:pii").matches(row, lambda name: name == "pii")
    for bad in ("__import__('os')", "model ==", "latency_ms > 'x'", "model == 'a' or", "nofield > 1", "(error"):
        with pytest.raises(InputError):
            parse_where(bad)


def test_allocate_proportional_with_one_per_stratum() -> None:
    alloc = _allocate({("v1", "ok"): 90, ("v1", "error"): 5, ("v2", "ok"): 5}, 10)
    assert sum(alloc.values()) == 10 and min(alloc.values()) >= 1 and alloc[("v1", "ok")] >= 7
    assert _allocate({("v1", "ok"): 3}, 10) == {("v1", "ok"): 3}
