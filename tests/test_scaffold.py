"""`scaffold`: the starter project, never overwriting, filling in what a partial scaffold lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import llmctl
from llmctl.config import load_config
from llmctl.lint import lint_project
from llmctl.scaffold import DISTRIBUTION, REQUIREMENTS, scaffold


def test_scaffold_creates_a_clean_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    created = scaffold(tmp_path).created
    rels = sorted(p.relative_to(tmp_path).as_posix() for p in created)
    assert "llmctl.yaml" in rels and ".gitignore" in rels and REQUIREMENTS in rels
    assert ".github/workflows/llmctl-eval.yml" in rels
    assert any(r.startswith("prompts/") for r in rels) and any(r.startswith("evalsets/") for r in rels)
    report = lint_project(load_config(tmp_path))
    assert report.ok, [p.located() for p in report.problems]
    assert report.prompts >= 1 and report.evalsets >= 1
    assert ".llmctl/" in (tmp_path / ".gitignore").read_text().splitlines()


def test_requirements_pin_exactly_the_running_version_of_our_distribution(tmp_path: Path) -> None:
    scaffold(tmp_path)
    lines = [ln for ln in (tmp_path / REQUIREMENTS).read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines == [f"{DISTRIBUTION}=={llmctl.__version__}"]
    assert DISTRIBUTION != "llmctl"  # the PyPI name `llmctl` is an unrelated project's


def test_scaffolded_workflow_installs_from_the_pinned_file_and_never_names_pypi_llmctl(tmp_path: Path) -> None:
    scaffold(tmp_path)
    text = (tmp_path / ".github/workflows/llmctl-eval.yml").read_text()
    doc = yaml.safe_load(text)
    runs = [s.get("run", "") for s in doc["jobs"]["eval"]["steps"]]
    install = next(r for r in runs if "install" in r)
    assert f"-r {REQUIREMENTS}" in install
    assert "llmctl==" not in text and "install llmctl" not in text
    uv = next(s for s in doc["jobs"]["eval"]["steps"] if s.get("uses", "").startswith("astral-sh/setup-uv"))
    assert uv["with"]["cache-dependency-glob"] == REQUIREMENTS


def test_scaffold_keeps_existing_files_and_fills_in_the_rest(tmp_path: Path) -> None:
    (tmp_path / "llmctl.yaml").write_text("# mine\n")
    (tmp_path / ".gitignore").write_text("node_modules/")
    result = scaffold(tmp_path)
    assert (tmp_path / "llmctl.yaml").read_text() == "# mine\n"
    assert [p.name for p in result.kept] == ["llmctl.yaml"]
    assert [p.name for p in result.updated] == [".gitignore"]
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.llmctl/\n"
    assert (tmp_path / "prompts/summarize.yaml").is_file() and (tmp_path / REQUIREMENTS).is_file()
    again = scaffold(tmp_path)
    assert not again.created and not again.updated
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.llmctl/\n"
