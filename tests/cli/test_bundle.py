"""`llmctl bundle` and loading from it with no git and no prompts/ folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gitrepo import GitRepo, cli, git_env, make_project

from llmctl import load_prompt


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    return make_project(tmp_path / "proj")


def test_bundle_round_trip(project: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    assert cli(["promote", "summarize", "--to", "production", "--force"], project.root, capsys)[0] == 0
    dest = tmp_path / "out" / "bundle.json"
    code, out, err = cli(["bundle", "--output", str(dest), "--label", "production"], project.root, capsys)
    assert code == 0, err and "1 prompt(s), 1 release(s)" in out
    data = json.loads(dest.read_text())
    rel = data["prompts"]["summarize"]["releases"]["v1"]
    assert set(rel["files"]) == {"prompts/summarize.yaml", "prompts/partials/ticket.jinja"}
    monkeypatch.chdir(tmp_path / "out")
    prompt = load_prompt("summarize", label="production", bundle="bundle.json")
    assert prompt.render(ticket="hello")[1]["content"].startswith("Ticket: hello")


def test_bundle_errors(project: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["bundle", "-o", str(tmp_path / "b.json")], project.root, capsys)
    assert code == 2 and "no releases" in err and not (tmp_path / "b.json").exists()
    assert cli(["promote", "summarize", "--to", "production", "--force"], project.root, capsys)[0] == 0
    code, _, err = cli(["bundle", "-o", str(tmp_path / "b.json"), "--label", "nope"], project.root, capsys)
    assert code == 2 and "unknown label" in err
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(Exception, match="invalid JSON"):
        load_prompt("summarize", label="production", bundle=tmp_path / "junk.json")
