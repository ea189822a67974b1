"""`llmctl log NAME`."""

from __future__ import annotations

import json

import pytest

from tests.gitrepo import GitRepo, cli, prompt_yaml


def test_log_without_store(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["log", "summarize"], git_project.root, capsys)
    assert code == 0 and "no releases yet" in out and "unreleased" in out
    assert cli(["promote", "summarize", "--to", "staging", "--force"], git_project.root, capsys)[0] == 0
    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Two.")}, "two")
    assert cli(["promote", "summarize", "--to", "staging", "--force"], git_project.root, capsys)[0] == 0
    assert cli(["promote", "summarize@v1", "--to", "staging", "--force"], git_project.root, capsys)[0] == 0
    code, out, err = cli(["log", "summarize", "--json"], git_project.root, capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [r["version"] for r in data["releases"]] == ["v1", "v2"]
    assert data["labels"] == {"staging": "v1"} and data["store"] is False
    moves = [e for e in data["events"] if e["event"] == "label"]
    assert [m["version"] for m in moves] == ["v1", "v2", "v1"] and moves[-1]["rollback"]
    assert all(e["author"] == "Test Author <author@example.com>" for e in data["events"])
    code, out, _ = cli(["log", "summarize"], git_project.root, capsys)
    assert code == 0 and "rollback" in out and "no store yet" in out


def test_log_unknown_prompt(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["log", "ghost"], git_project.root, capsys)
    assert code == 2 and "unknown prompt 'ghost'" in err
