"""The supply chain of the scaffolded workflow: pyproject excludes the compromised litellm releases,
and `llmctl init` / `llmctl init --lock` write a hash-locked requirements file that never resolves
them, which the workflow's install command installs with --require-hashes.

The package index is a local folder of small wheels built here (uv's `--find-links`, no network):
a stand-in `llmctl-ci` whose one dependency is pyproject's real litellm requirement, and litellm
1.82.6, 1.82.7 and 1.82.8, so the newest release a resolver could pick is a compromised one."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from llmctl.scaffold import COMPROMISED, LOCK, REQUIREMENTS, lock_versions, needs_build
from tests.cli.clirun import run

ROOT = Path(__file__).resolve().parent.parent


def litellm_requirement() -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == "litellm")


def test_pyproject_excludes_the_compromised_litellm_releases() -> None:
    spec = litellm_requirement().specifier
    for version in COMPROMISED["litellm"]:
        assert not spec.contains(version), f"pyproject.toml admits litellm {version} (BerriAI/litellm#24512)"
    assert spec.contains("1.82.6") and spec.contains("1.82.9")
    assert "BerriAI/litellm#24512" in (ROOT / "pyproject.toml").read_text()


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> None:
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{dist}.dist-info/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{name.replace('-', '_')}_stub.py": f"VERSION = {version!r}\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
        zf.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local package index (uv `--find-links`) and uv set to use only it, with its own cache."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    _wheel(folder, "llmctl-ci", "0.1.0", [str(litellm_requirement())])
    _wheel(folder, "llmctl-ci", "0.0.9", ["litellm>=1.50"])  # an older release without the exclusion
    for version in ("1.82.6", "1.82.7", "1.82.8"):
        _wheel(folder, "litellm", version, [])
    config = tmp_path / "uv.toml"  # uv has no environment variable for --no-index: its config file
    config.write_text(f"no-index = true\nfind-links = [{str(folder)!r}]\n")
    monkeypatch.setenv("UV_CONFIG_FILE", str(config))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    return folder


@pytest.mark.parametrize("release", ["0.1.0", "0.0.9"])
def test_init_writes_a_hash_locked_file_without_a_compromised_litellm(
    tmp_path: Path, index: Path, capsys, monkeypatch, release: str
) -> None:
    project = tmp_path / "proj"
    code, out, err = run(["init", str(project), "--requirement", f"llmctl-ci=={release}"], capsys, monkeypatch)
    assert code == 0, out + err
    assert f"created {project / LOCK}" in out, out + err
    text = (project / LOCK).read_text()
    pins = lock_versions(text)
    assert pins["llmctl-ci"] == release
    assert pins["litellm"] not in COMPROMISED["litellm"] and pins["litellm"] == "1.82.6", text
    blocks = [b for b in text.split("\n") if "==" in b and not b.startswith("#")]
    assert len(blocks) == len(pins) == 2 and all(b.rstrip().endswith("\\") for b in blocks)  # each one hashed
    assert text.count("--hash=sha256:") == 2 and "llmctl init --lock" in text

    # the workflow's install command, in a fresh venv
    venv = tmp_path / "venv"
    uv = str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "venv", "-q", str(venv), "--python", sys.executable], check=True, timeout=120)
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    done = subprocess.run(
        [uv, "pip", "install", "-q", "--require-hashes", "-r", LOCK],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([uv, "pip", "freeze"], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "litellm==1.82.6" in listed and f"llmctl-ci=={release}" in listed


def test_init_lock_refreshes_the_lock_after_an_edit(tmp_path: Path, index: Path, capsys, monkeypatch) -> None:
    project = tmp_path / "proj"
    assert run(["init", str(project), "--no-lock", "--requirement", "llmctl-ci==0.1.0"], capsys, monkeypatch)[0] == 0
    assert not (project / LOCK).exists()
    req = project / REQUIREMENTS
    req.write_text(req.read_text().replace("llmctl-ci==0.1.0", "llmctl-ci==0.0.9"))
    code, _out, err = run(["init", str(project), "--lock"], capsys, monkeypatch)
    assert code == 0, err
    assert lock_versions((project / LOCK).read_text())["llmctl-ci"] == "0.0.9"


def test_without_the_index_init_says_so_and_names_the_refresh(tmp_path: Path, index: Path, capsys, monkeypatch) -> None:
    (tmp_path / "uv.toml").write_text(f"no-index = true\nfind-links = [{str(tmp_path / 'nowhere')!r}]\n")
    monkeypatch.setenv("UV_OFFLINE", "1")
    project = tmp_path / "proj"
    code, _, err = run(["init", str(project), "--requirement", "llmctl-ci==0.1.0"], capsys, monkeypatch)
    assert code == 0 and (project / REQUIREMENTS).is_file() and not (project / LOCK).exists()
    assert f"{LOCK} not written" in err and "llmctl init --lock" in err, err
    code, _out, err = run(["init", str(project), "--lock"], capsys, monkeypatch)
    assert code == 3 and "llmctl init --lock" in err and "Traceback" not in err


def test_init_lock_without_a_requirements_file_is_a_usage_error(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = run(["init", str(tmp_path), "--lock"], capsys, monkeypatch)
    assert code == 2 and REQUIREMENTS in err


def test_init_refuses_a_requirement_for_another_distribution(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = run(["init", str(tmp_path / "p"), "--no-lock", "--requirement", "llmctl==1.0"], capsys, monkeypatch)
    assert code == 2 and "another project" in err and not (tmp_path / "p").exists()


def test_needs_build() -> None:
    assert not needs_build("llmctl-ci==1.0\n")
    assert not needs_build("llmctl-ci @ https://x/llmctl_ci-1.0-py3-none-any.whl --hash=sha256:ab\n")
    assert needs_build("# c\nllmctl-ci @ git+https://github.com/a/b@0123\n")
    assert needs_build("llmctl-ci @ file:///src/llmctl\n")
