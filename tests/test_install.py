"""llmctl/install.py: the requirement `llmctl init` writes comes from how the running llmctl was
installed (PEP 610 direct_url.json), and `llmctl --version` names the commit when there is one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.install import DISTRIBUTION, given_pin, pin_for, strip_credentials, version_line
from tests.gitrepo import GitRepo, git_env

ROOT = Path(__file__).resolve().parent.parent
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_an_index_install_pins_the_version() -> None:
    assert pin_for(None, "1.2.3").requirement == f"{DISTRIBUTION}==1.2.3"


def test_a_vcs_install_pins_its_url_at_the_commit_without_credentials() -> None:
    data = {
        "url": "https://user:ghp_secret@github.com/acme/llmctl.git",
        "vcs_info": {"vcs": "git", "requested_revision": "main", "commit_id": SHA},
        "subdirectory": "pkg",
    }
    pin = pin_for(data, "1.2.3")
    assert pin.requirement == f"{DISTRIBUTION} @ git+https://github.com/acme/llmctl.git@{SHA}#subdirectory=pkg"
    assert pin.notice is None and pin.commit == SHA


def test_an_archive_install_pins_its_url_with_its_hash() -> None:
    url = "https://files.example/llmctl_ci-1.2.3-py3-none-any.whl"
    pin = pin_for({"url": url, "archive_info": {"hashes": {"sha256": "ab" * 32}}}, "1.2.3")
    assert pin.requirement == f"{DISTRIBUTION} @ {url} --hash=sha256:{'ab' * 32}" and pin.notice is None
    legacy = pin_for({"url": url, "archive_info": {"hash": "sha256=" + "cd" * 32}}, "1.2.3")
    assert legacy.requirement.endswith(f"--hash=sha256:{'cd' * 32}")
    local = pin_for({"url": "file:///tmp/x.whl", "archive_info": {"hashes": {"sha256": "ef" * 32}}}, "1.2.3")
    assert local.notice is not None and "CI cannot read" in local.notice


def _checkout(tmp_path: Path, remote: str | None) -> GitRepo:
    repo = GitRepo.init(tmp_path / "src")
    repo.commit({"README.md": "x\n"}, "one")
    if remote is not None:
        repo.git("remote", "add", "origin", remote)
    return repo


def test_an_editable_checkout_pins_its_remote_at_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git_env(monkeypatch)
    repo = _checkout(tmp_path, "https://bot:ghp_token123@github.com/acme/llmctl.git")
    pin = pin_for({"url": repo.root.as_uri(), "dir_info": {"editable": True}}, "1.2.3")
    assert pin.requirement == f"{DISTRIBUTION} @ git+https://github.com/acme/llmctl.git@{repo.head()}"
    assert "ghp_token123" not in pin.requirement + str(pin.notice)
    assert pin.notice is not None and "push it" in pin.notice  # HEAD is on no remote-tracking branch


def test_an_scp_style_remote_becomes_an_ssh_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git_env(monkeypatch)
    repo = _checkout(tmp_path, "git@github.com:acme/llmctl.git")
    pin = pin_for({"url": repo.root.as_uri(), "dir_info": {}}, "1.2.3")
    assert pin.requirement == f"{DISTRIBUTION} @ git+ssh://git@github.com/acme/llmctl.git@{repo.head()}"


def test_a_folder_without_a_remote_gets_a_notice_naming_what_to_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_env(monkeypatch)
    for folder in (_checkout(tmp_path, None).root, tmp_path / "plain"):
        folder.mkdir(exist_ok=True)
        pin = pin_for({"url": folder.as_uri(), "dir_info": {"editable": True}}, "1.2.3")
        assert pin.requirement == f"{DISTRIBUTION}==1.2.3"
        assert pin.notice is not None and "Edit that line" in pin.notice and "--requirement" in pin.notice


def test_strip_credentials() -> None:
    assert strip_credentials("https://u:p@h.example:8443/x") == "https://h.example:8443/x"
    assert strip_credentials("file:///a/b") == "file:///a/b"


def test_given_requirement_is_checked() -> None:
    assert given_pin(f"{DISTRIBUTION} @ git+https://h/r@{SHA}").requirement.endswith(SHA)
    for bad in ("llmctl==1.0", "requests", "llmctl-ci @@ nope"):
        with pytest.raises(InputError):
            given_pin(bad)


def test_version_names_the_commit_of_a_vcs_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import llmctl.install as install

    monkeypatch.setattr(install, "direct_url", lambda: {"url": "x", "vcs_info": {"vcs": "git", "commit_id": SHA}})
    assert version_line("1.2.3") == f"llmctl 1.2.3 (commit {SHA})"
    monkeypatch.setattr(install, "direct_url", lambda: None)
    assert version_line("1.2.3") == "llmctl 1.2.3"


# -- end to end: install from git, `llmctl init`, install what it wrote into a fresh venv -------------


def _uv() -> str:
    found = Path(sys.executable).parent / "uv"
    if found.is_file():
        return str(found)
    which = shutil.which("uv")
    if which is None:
        pytest.fail("uv is not installed: it is in the dev extra (pip install -e '.[dev]')")
    return which


def _sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def snapshot_checkout(dest: Path) -> tuple[Path, str]:
    """This checkout's work tree (tracked and untracked, not ignored) committed into a bare repository."""
    work = dest / "work"
    files = _sh("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT).split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    repo = GitRepo.init(work)
    sha = repo.commit(message="snapshot")
    bare = dest / "llmctl.git"
    _sh("git", "clone", "-q", "--bare", str(work), str(bare))
    return bare, sha


@pytest.mark.slow
def test_init_writes_a_requirement_that_installs_the_same_llmctl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_env(monkeypatch)
    uv = _uv()
    bare, sha = snapshot_checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "LLMCTL_DB")}
    first, second = tmp_path / "venv-a", tmp_path / "venv-b"
    _sh(uv, "venv", "-q", str(first), "--python", sys.executable, env=env)
    _sh(
        uv,
        "pip",
        "install",
        "-q",
        "--python",
        str(first / "bin/python"),
        f"{DISTRIBUTION} @ git+{bare.as_uri()}",
        env=env,
    )
    version_a = _sh(str(first / "bin/llmctl"), "--version", env=env).strip()
    assert version_a.endswith(f"(commit {sha})"), version_a

    project = GitRepo.init(tmp_path / "proj").root
    out = _sh(str(first / "bin/llmctl"), "init", "--no-lock", cwd=project, env=env)
    assert "created requirements-llmctl.txt" in out
    lines = [ln for ln in (project / "requirements-llmctl.txt").read_text().splitlines() if not ln.startswith("#")]
    assert lines == [f"{DISTRIBUTION} @ git+{bare.as_uri()}@{sha}"]

    _sh(uv, "venv", "-q", str(second), "--python", sys.executable, env=env)
    _sh(
        uv,
        "pip",
        "install",
        "-q",
        "--python",
        str(second / "bin/python"),
        "-r",
        "requirements-llmctl.txt",
        cwd=project,
        env=env,
    )
    version_b = _sh(str(second / "bin/llmctl"), "--version", env=env).strip()
    assert version_b == version_a
    direct = json.loads(
        _sh(
            str(second / "bin/python"),
            "-c",
            "import importlib.metadata as m; print(m.distribution('llmctl-ci').read_text('direct_url.json'))",
            cwd=tmp_path,
            env=env,
        )
    )
    assert direct["vcs_info"]["commit_id"] == sha
