"""`scaffold`: the starter project, never overwriting."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.config import load_config
from llmctl.errors import InputError
from llmctl.lint import lint_project
from llmctl.scaffold import scaffold


def test_scaffold_creates_a_clean_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    created = scaffold(tmp_path)
    rels = sorted(p.relative_to(tmp_path).as_posix() for p in created)
    assert "llmctl.yaml" in rels
    assert any(r.startswith("prompts/") for r in rels) and any(r.startswith("evalsets/") for r in rels)
    report = lint_project(load_config(tmp_path))
    assert report.ok, [p.located() for p in report.problems]
    assert report.prompts >= 1 and report.evalsets >= 1


def test_scaffold_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "llmctl.yaml").write_text("# mine\n")
    with pytest.raises(InputError, match="refusing to overwrite") as info:
        scaffold(tmp_path)
    assert "llmctl.yaml" in info.value.message
    assert (tmp_path / "llmctl.yaml").read_text() == "# mine\n"
    assert not (tmp_path / "prompts").exists()
