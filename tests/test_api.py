"""The application API (`llmctl.api`, re-exported by `llmctl`): load_prompt and render."""

from __future__ import annotations

from pathlib import Path

import pytest

import llmctl
from llmctl import load_prompt, render
from llmctl.errors import InputError, RefError
from tests.test_prompt import SUMMARIZE, write


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, {"prompts/summarize.yaml": SUMMARIZE, "prompts/partials/ticket.jinja": "Ticket:\n{{ ticket }}\n"})
    return tmp_path


def test_load_prompt_and_render_from_a_subfolder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "llmctl.yaml").write_text("default_models: [echo]\n")
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    assert load_prompt("summarize").name == "summarize"
    assert render("summarize", ticket="x")[1]["content"] == "Ticket:\nx"
    assert llmctl.render is render and llmctl.load_prompt is load_prompt


def test_label_and_version_are_checked_before_anything_is_read(project: Path) -> None:
    with pytest.raises(InputError, match="not both"):
        load_prompt("summarize", label="production", version="v1", root=project)
    with pytest.raises(RefError, match="invalid version"):
        load_prompt("summarize", version="3", root=project)
