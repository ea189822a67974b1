"""Every GitHub workflow is valid YAML, passes the workflow JSON schema, and follows our rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml")) + sorted(
    (ROOT / "llmctl" / "templates" / "project" / ".github" / "workflows").glob("*.y*ml")
)


def _check_jsonschema() -> str | None:
    local = Path(sys.executable).parent / "check-jsonschema"
    return str(local) if local.exists() else shutil.which("check-jsonschema")


def test_there_are_workflows():
    assert any(p.name == "llmctl-eval.yml" for p in WORKFLOWS)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_as_yaml(path):
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict) and "jobs" in doc


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_schema(path):
    tool = _check_jsonschema()
    if tool is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    proc = subprocess.run(
        [tool, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_untrusted_event_text_in_run_scripts(path):
    doc = yaml.safe_load(path.read_text())
    for job in doc["jobs"].values():
        for step in job.get("steps", []):
            script = step.get("run", "")
            assert not re.search(r"\$\{\{\s*github\.(event|head_ref)", script), f"{step.get('name')}: {script}"


def test_eval_workflow_contract():
    doc = yaml.safe_load((ROOT / ".github/workflows/llmctl-eval.yml").read_text())
    # PyYAML reads the key `on` as True
    triggers = doc.get("on", doc.get(True))
    assert "pull_request" in triggers
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = doc["jobs"]["eval"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert cache["with"]["path"].rstrip("/") == ".llmctl" and "github.base_ref" in cache["with"]["key"]
    assert any("pip install ." in s.get("run", "") for s in steps)
    evals = [s for s in steps if "llmctl eval" in s.get("run", "")]
    assert len(evals) == 2
    for s in evals:
        run = s["run"]
        assert '--baseline "origin/$BASE_REF"' in run and "--changed-only" in run
        assert "--output report.md" in run and "--output report.xml" in run
    fork = next(s for s in evals if "fork" in s["name"].lower())
    assert "--model echo" in fork["run"] or "--dry-run" in fork["run"]
    assert "env" not in fork or not any("secrets." in str(v) for v in fork["env"].values())
    assert fork["if"] == "env.IS_FORK == 'true'"
    comment = next(s for s in steps if "llmctl comment" in s.get("run", ""))
    assert "--report report.md" in comment["run"] and "IS_FORK == 'false'" in comment["if"]
    job_env = doc["jobs"]["eval"]["env"]
    assert "head.repo.full_name != github.repository" in job_env["IS_FORK"]
