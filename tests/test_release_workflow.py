"""The release workflow (.github/workflows/release.yml): its contract (a `v*` tag, build before
publish, PyPI trusted publishing with no stored token), and a rehearsal of its build job's `run:`
steps, in order and verbatim, in a snapshot of this checkout: tag check, `uv build`, `twine check`,
the wheel installed into a fresh venv, `llmctl --version` and the offline quickstart from it.
`uses:` steps are played by the harness (checkout: the snapshot; setup-*: this venv's uv and
Python on PATH; upload/download-artifact and the publish action: not run). The build tools
(setuptools, twine) come from uv's cache or the package index, as in CI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import llmctl
from tests.test_install import snapshot_checkout

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / ".github" / "workflows" / "release.yml"


def _doc() -> dict:
    return yaml.safe_load(RELEASE.read_text())


def test_release_contract() -> None:
    doc = _doc()
    triggers = doc.get("on", doc.get(True))
    assert triggers == {"push": {"tags": ["v*"]}}
    assert doc["permissions"] == {"contents": "read"}
    build, publish = doc["jobs"]["build"], doc["jobs"]["publish"]
    assert "permissions" not in build  # the build job cannot mint an OIDC token
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    action = next(s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@"))
    assert re.fullmatch(r"pypa/gh-action-pypi-publish@[0-9a-f]{40}", action["uses"])
    assert not (action.get("with") or {}).keys() & {"password", "user"}  # trusted publishing: no token
    assert "secrets." not in RELEASE.read_text()
    runs = "\n".join(s.get("run", "") for s in build["steps"])
    for needed in ("uv build", "twine check --strict", "dist/*.whl", "--version", 'llmctl" lint', 'llmctl" eval'):
        assert needed in runs, needed


def _rehearse(src: Path, tmp: Path, tag: str) -> dict[str, subprocess.CompletedProcess[str]]:
    runner_temp = tmp / "runner"
    runner_temp.mkdir(exist_ok=True)
    env = {
        **{
            k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "LLMCTL_", "VIRTUAL_ENV", "PYTHONPATH"))
        },
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_ACTIONS": "true",
    }
    job = _doc()["jobs"]["build"]
    env.update({k: str(v).replace("${{ github.ref_name }}", tag) for k, v in job["env"].items()})
    done: dict[str, subprocess.CompletedProcess[str]] = {}
    for step in job["steps"]:
        if "run" not in step:
            continue
        proc = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=src, env=env, capture_output=True, text=True, timeout=400
        )
        done[step["name"]] = proc
        if proc.returncode != 0:
            break
    return done


@pytest.mark.slow
def test_release_build_job_rehearsal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.gitrepo import git_env

    git_env(monkeypatch)
    bare, _ = snapshot_checkout(tmp_path / "snap")
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(bare), str(src)], check=True, timeout=120)

    wrong = _rehearse(src, tmp_path, "v999.0.0")
    assert list(wrong) == ["Check the tag names pyproject's version"] and wrong[next(iter(wrong))].returncode == 1
    assert "does not match" in wrong[next(iter(wrong))].stdout

    done = _rehearse(src, tmp_path, f"v{llmctl.__version__}")
    for name, proc in done.items():
        assert proc.returncode == 0, f"{name}:\n{proc.stdout}\n{proc.stderr}"
    assert len(done) == 4
    built = sorted(p.name for p in (src / "dist").iterdir())
    assert any(n.endswith(".whl") for n in built) and any(n.endswith(".tar.gz") for n in built), built
    assert "PASSED" in done["Check the distributions"].stdout
    last = done["Install the wheel in a clean venv, run --version and the quickstart"]
    assert f"llmctl {llmctl.__version__}" in last.stdout
    assert "gate" in last.stdout
    venv_python = tmp_path / "runner" / "release-venv" / "bin" / "python"
    where = subprocess.run(
        [str(venv_python), "-c", "import llmctl, sys; print(llmctl.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "site-packages" in where  # the quickstart ran the installed wheel, not the checkout
