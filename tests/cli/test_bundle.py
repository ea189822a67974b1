"""`llmctl bundle` and loading from it with no git and no prompts/ folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmctl import load_prompt
from tests.gitrepo import GitRepo, cli


def test_bundle_round_trip(
    git_project: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    assert cli(["promote", "summarize", "--to", "production", "--force"], git_project.root, capsys)[0] == 0
    dest = tmp_path / "out" / "bundle.json"
    code, out, err = cli(["bundle", "--output", str(dest), "--label", "production"], git_project.root, capsys)
    assert code == 0, err and "1 prompt(s), 1 release(s)" in out
    data = json.loads(dest.read_text())
    rel = data["prompts"]["summarize"]["releases"]["v1"]
    assert set(rel["files"]) == {"prompts/summarize.yaml", "prompts/partials/ticket.jinja"}
    monkeypatch.chdir(tmp_path / "out")
    prompt = load_prompt("summarize", label="production", bundle="bundle.json")
    assert prompt.render(ticket="hello")[1]["content"].startswith("Ticket: hello")


def test_bundle_errors(git_project: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["bundle", "-o", str(tmp_path / "b.json")], git_project.root, capsys)
    assert code == 2 and "no releases" in err and not (tmp_path / "b.json").exists()
    assert cli(["promote", "summarize", "--to", "production", "--force"], git_project.root, capsys)[0] == 0
    code, _, err = cli(["bundle", "-o", str(tmp_path / "b.json"), "--label", "nope"], git_project.root, capsys)
    assert code == 2 and "unknown label" in err
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(Exception, match="invalid JSON"):
        load_prompt("summarize", label="production", bundle=tmp_path / "junk.json")
