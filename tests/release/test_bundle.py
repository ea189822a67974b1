"""Bundles: released prompts loaded without git, content hashes checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmctl import load_prompt
from llmctl.config import load_config
from llmctl.errors import InputError, RefError
from llmctl.release import build_bundle, promote, write_bundle
from tests.gitrepo import GitRepo, prompt_yaml


def test_bundle_loads_without_git(project: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.commit({"prompts/partials/ticket.jinja": "T2: {{ ticket }}\n"}, "partial")
    promote(cfg, "summarize", "staging", force=True)
    data = build_bundle(cfg)
    elsewhere = tmp_path / "deploy"
    elsewhere.mkdir()
    bundle = elsewhere / "bundle.json"
    write_bundle(data, bundle)
    monkeypatch.chdir(elsewhere)  # no git, no prompts/
    prod = load_prompt("summarize", label="production", bundle=bundle)
    assert prod.render({"ticket": "hi"})[1]["content"].startswith("Ticket: hi")
    stage = load_prompt("summarize", label="staging", bundle=str(bundle))
    assert stage.render({"ticket": "hi"})[1]["content"].startswith("T2: hi")
    assert load_prompt("summarize", version="v1", bundle=bundle).hash == prod.hash
    with pytest.raises(RefError, match="no label"):
        load_prompt("summarize", label="nope", bundle=bundle)
    # tampered content is refused
    raw = json.loads(bundle.read_text())
    files = raw["prompts"]["summarize"]["releases"]["v1"]["files"]
    files["prompts/partials/ticket.jinja"] = "EVIL {{ ticket }}\n"
    bundle.write_text(json.dumps(raw))
    with pytest.raises(InputError, match="does not match"):
        load_prompt("summarize", label="production", bundle=bundle)


def test_bundle_by_label(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.commit({"prompts/summarize.yaml": prompt_yaml("Two.")}, "two")
    promote(cfg, "summarize", "staging", force=True)
    data = build_bundle(cfg, ["production"])
    assert list(data["prompts"]["summarize"]["releases"]) == ["v1"]
    assert data["prompts"]["summarize"]["labels"] == {"production": "v1"}
