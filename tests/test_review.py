"""`llmctl review`: what the reviewer sees (input, expected, expected tool calls, verdicts, every turn
of the answer) and the keyboard flow pass / fail / skip / note / back (issue 23 item 2)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from llmctl.cli import _common
from llmctl.cli.main import app
from tests.cli.conftest import copy_of_this_repo
from tests.cli.tmux import HAVE_TMUX, Terminal
from tests.e2e.project import llmctl
from tests.gitrepo import git_env


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """The support agent run once, its where-is-my-order case failing (it wants 'delivered')."""
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("LLMCTL_REVIEWER", "rev")
    root = copy_of_this_repo(tmp_path / "repo")
    path = root / "evalsets/support_agent.yaml"
    path.write_text(path.read_text().replace("value: shipped}", "value: delivered}"))
    code, out = llmctl(root, "eval", "support_agent", capsys=capsys)
    assert code == 1, out
    monkeypatch.chdir(root)
    return root


def review(keys: list[str], argv: list[str], capsys, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(k + "\n" for k in keys)))
    monkeypatch.setattr(_common, "DEBUG", False)
    code = _common.invoke(app, ["review", "latest", *argv])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def labels(root: Path) -> dict[str, dict[str, str]]:
    path = root / "evalsets/labels/support_agent.jsonl"
    return {r["case_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_a_reviewer_sees_input_expected_verdicts_and_every_turn(agent: Path, capsys, monkeypatch) -> None:
    out = review(["q"], ["--failed"], capsys, monkeypatch)
    assert "1 output(s) to review" in out
    assert "[1/1] case where-is-my-order · model demo · automatic: FAIL" in out
    assert "input (the last user message; i: all 2 messages):\n  Where is order ORD-1001?" in out
    assert "You are a support agent" not in out  # the system message only on i
    assert 'expected tool calls:\n  -> get_order({"order_id": "ORD-1001"})' in out
    assert "  FAIL     icontains 0.000  expected to contain 'delivered'" in out
    assert "  pass     tool_call_f1 1.000" in out
    # the agent loop: the call (its arguments), then the answer, each turn with its finish reason
    assert "answer (2 turns):" in out
    assert '  turn 1 (finish reason tool_calls)\n    -> get_order({"order_id": "ORD-1001"})' in out
    assert "  turn 2 (finish reason stop)\n    Your order ORD-1001 has shipped" in out


def test_keys_input_note_back_skip(agent: Path, capsys, monkeypatch) -> None:
    # i: every message; n: a note for the next label; p labels with it; b back; f relabels; s skips
    keys = ["i", "n checked the order", "p", "b", "f wrong tool order", "s", "zzz", "p"]
    out = review(keys, ["--all"], capsys, monkeypatch)
    assert "input (4 message(s); i: only the last user message):\n  [system]\n    You are a support agent" in out
    assert "note kept for the next label: checked the order" in out
    assert "your label: pass (checked the order)" in out  # back shows what was given
    assert "p pass · f fail" in out  # an unknown key shows the keys
    assert "labelled 2 output(s)" in out  # the relabelled item counts once; end of input stops
    rows = labels(agent)
    assert rows["cancel-after-checking"]["label"] == "fail"  # the newer label replaced the older
    assert rows["cancel-after-checking"]["note"] == "wrong tool order"
    assert "damaged-item-photo" not in rows  # skipped
    assert rows["no-tool-needed"]["label"] == "pass" and rows["no-tool-needed"]["by"] == "rev"
    # labelled outputs are not offered again
    assert "2 output(s) to review" in review(["q"], [], capsys, monkeypatch)


def test_a_tool_call_with_long_arguments_is_pretty_printed() -> None:
    from llmctl.transcript import answer_lines, answer_view

    calls = [{"name": "search", "arguments": {"query": "x" * 50, "filters": {"lang": "en"}}, "raw_arguments": "..."}]
    lines = answer_lines(answer_view("", calls, "tool_calls"))
    assert lines[0] == "-> search(" and '  "filters": {' in "\n".join(lines) and lines[-2] == "   )"
    assert lines[-1] == "(finish reason tool_calls)"
    bad = answer_lines(answer_view("", [{"name": "f", "arguments": None, "raw_arguments": "{not json"}], "tool_calls"))
    assert bad[0] == "-> f({not json)"  # the model's text as sent when it is not JSON


@pytest.mark.skipif(not HAVE_TMUX, reason="tmux is not installed")
def test_review_in_a_real_terminal(agent: Path, tmp_path: Path) -> None:
    """The keys typed into a real terminal (tmux send-keys), the screen read back (capture-pane)."""
    term = Terminal("review", 100)
    done = tmp_path / "done"
    term.start(agent, [str(Path(sys.executable).parent / "llmctl"), "review", "latest", "--failed"], done)
    try:
        screen = term.wait_for("[q]uit >")
        assert "Where is order ORD-1001?" in screen and "You are a support agent" not in screen
        term.keys("i", "Enter")
        screen = term.wait_for("[system]")
        assert "You are a support agent" in screen
        term.keys("n", "Enter")
        term.wait_for("note: ")
        term.keys("wants delivered", "Enter")
        term.wait_for("note kept for the next label: wants delivered")
        term.keys("f", "Enter")
        screen = term.wait_for("labelled 1 output(s)")
    finally:
        term.close()
    row = labels(agent)["where-is-my-order"]
    assert row["label"] == "fail" and row["note"] == "wants delivered"
