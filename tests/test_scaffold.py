"""`scaffold`: the starter project, never overwriting, filling in what a partial scaffold lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmctl.config import load_config
from llmctl.install import current_pin, pin_for
from llmctl.lint import lint_project
from llmctl.scaffold import DISTRIBUTION, LOCK, LOCK_PYTHON, REQUIREMENTS, requirement_line, scaffold


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


def test_requirements_pin_how_the_running_llmctl_was_installed(tmp_path: Path) -> None:
    scaffold(tmp_path)
    lines = [ln for ln in (tmp_path / REQUIREMENTS).read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines == [current_pin().requirement]
    assert lines[0].startswith(f"{DISTRIBUTION}==") or lines[0].startswith(f"{DISTRIBUTION} @ ")
    assert DISTRIBUTION != "llmctl"  # the PyPI name `llmctl` is an unrelated project's


def test_scaffolded_workflow_installs_from_the_hash_locked_file_and_never_names_pypi_llmctl(tmp_path: Path) -> None:
    scaffold(tmp_path)
    text = (tmp_path / ".github/workflows/llmctl-eval.yml").read_text()
    doc = yaml.safe_load(text)
    steps = doc["jobs"]["eval"]["steps"]
    install = next(s for s in steps if "uv pip install" in s.get("run", ""))
    assert install["run"].splitlines() == [
        f"uv pip install --system --require-hashes -r {LOCK}",
        f"uv pip install --system --no-deps --no-build-isolation -r {REQUIREMENTS}",
    ]
    assert "llmctl==" not in text and "install llmctl" not in text
    uv = next(s for s in steps if s.get("uses", "").startswith("astral-sh/setup-uv"))
    assert uv["with"]["cache-dependency-glob"] == LOCK
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == LOCK_PYTHON  # the lock is resolved for that Python


def test_provider_keys_reach_only_the_evaluation_steps(tmp_path: Path) -> None:
    scaffold(tmp_path)
    doc = yaml.safe_load((tmp_path / ".github/workflows/llmctl-eval.yml").read_text())
    job = doc["jobs"]["eval"]
    assert "secrets." not in str(job.get("env")) and "secrets." not in str(doc.get("env"))
    keyed = [s for s in job["steps"] if "KEY" in str(s.get("env"))]
    assert keyed and all("llmctl eval" in s["run"] for s in keyed)
    for step in job["steps"]:
        if "install" in str(step.get("run", "")) or "install" in str(step.get("name", "")).lower():
            assert "env" not in step and "secrets." not in str(step)


def test_the_scaffold_ships_the_judge_prompt_its_judge_loads(tmp_path: Path) -> None:
    from llmctl.evaluators._judge import packaged_prompt

    scaffold(tmp_path)
    assert (tmp_path / "prompts/judges/rubric.yaml").read_text() == packaged_prompt()


def test_the_requirement_comes_from_pin_and_a_notice_names_no_secret(tmp_path: Path) -> None:
    pin = pin_for({"url": "file:///nowhere/llmctl", "dir_info": {"editable": True}}, "9.9.9")
    scaffold(tmp_path, pin)
    text = (tmp_path / REQUIREMENTS).read_text()
    assert text.splitlines()[requirement_line(text) - 1] == f"{DISTRIBUTION}==9.9.9"
    assert "EDIT THE NEXT LINE" in text


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
