"""How the running llmctl was installed, and the requirement line that installs the same thing again.

The source of truth is PEP 610's `direct_url.json` in the distribution's metadata (read with
importlib.metadata): absent for an install from a package index; `vcs_info` for a VCS URL (with
the resolved commit); `archive_info` for a wheel or sdist URL (with its hash); `dir_info` for a
local folder (editable or not), where the folder's own git remote and HEAD commit are used when
there are some. Standard library only: `llmctl --version` reads it too.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from llmctl.errors import InputError

# The distribution this project publishes on PyPI. The command stays `llmctl`; the PyPI name
# `llmctl` belongs to an unrelated project, so nothing we write may ever install that name.
DISTRIBUTION = "llmctl-ci"


def direct_url() -> dict[str, Any] | None:
    """The running distribution's `direct_url.json` (None: installed from an index, or unreadable)."""
    from importlib import metadata

    # a source checkout's `llmctl_ci.egg-info` on sys.path has none: prefer the installed record
    for dist in metadata.distributions(name=DISTRIBUTION):
        text = dist.read_text("direct_url.json")
        if text:
            try:
                data = json.loads(text)
            except ValueError:
                return None
            return data if isinstance(data, dict) and isinstance(data.get("url"), str) else None
    return None


def installed_commit(data: dict[str, Any] | None = None) -> str | None:
    """The VCS commit llmctl was installed from, when direct_url.json records one."""
    data = direct_url() if data is None else data
    vcs = data.get("vcs_info") if data else None
    commit = vcs.get("commit_id") if isinstance(vcs, dict) else None
    return commit if isinstance(commit, str) and commit else None


def version_line(version: str) -> str:
    """`llmctl --version`: the version, and the commit when installed from a VCS URL."""
    commit = installed_commit()
    return f"llmctl {version}" + (f" (commit {commit})" if commit else "")


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x` -> `https://host/x`: a written requirement never carries a secret."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def git_remote_url(remote: str) -> str:
    """A git remote as a pip VCS URL body: `git@host:org/repo.git` -> `ssh://git@host/org/repo.git`."""
    if "://" not in remote and ":" in remote and not remote.startswith("/"):
        user_host, _, path = remote.partition(":")
        return f"ssh://{user_host}/{path.lstrip('/')}"
    return strip_credentials(remote)


@dataclass
class Pin:
    """The requirement line for `requirements-llmctl.txt` and what the user should know about it."""

    requirement: str
    origin: str  # index | vcs | archive | directory | given
    notice: str | None = None  # printed by `llmctl init`; None when the line installs as is
    comments: list[str] = field(default_factory=list)  # written above the line
    commit: str | None = None


def _directory_pin(url: str, version: str, editable: bool) -> Pin:
    parts = urlsplit(url)
    folder = Path(unquote(parts.path))
    kind = "an editable install" if editable else "a local folder"
    head = _git(folder, "rev-parse", "HEAD")
    remote = None
    if head is not None:
        upstream = _git(folder, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
        name = upstream.split("/", 1)[0] if upstream else "origin"
        remote = _git(folder, "remote", "get-url", name) or _git(folder, "remote", "get-url", "origin")
    if head is not None and remote is not None:
        spec = f"{DISTRIBUTION} @ git+{git_remote_url(remote)}@{head}"
        notes = []
        if _git(folder, "status", "--porcelain", "--untracked-files=no"):
            notes.append("its work tree has uncommitted changes, which CI will not have")
        if _git(folder, "branch", "-r", "--contains", head) is None:
            notes.append(f"commit {head[:12]} is on no remote-tracking branch: push it, or CI cannot fetch it")
        notice = f"llmctl runs from {kind} of {folder}; pinned its git remote at HEAD" + (
            f" ({'; '.join(notes)})" if notes else ""
        )
        return Pin(
            spec, "directory", notice if notes else None, [f"from {kind} of a git checkout: its remote at HEAD"], head
        )
    return Pin(
        f"{DISTRIBUTION}=={version}",
        "directory",
        f"llmctl runs from {kind} of {folder}, which has no git remote: CI cannot install that folder, and "
        f"`{DISTRIBUTION}=={version}` installs only if that version is published. Edit that line (for example "
        f"`{DISTRIBUTION} @ git+https://github.com/ORG/REPO@COMMIT`), or rerun `llmctl init --requirement SPEC`",
        ["EDIT THE NEXT LINE: llmctl was installed from a local folder with no git remote"],
    )


def pin_for(data: dict[str, Any] | None, version: str) -> Pin:
    """The requirement that reinstalls what `data` (a direct_url.json, None: an index) describes."""
    if not data:
        return Pin(f"{DISTRIBUTION}=={version}", "index")
    url = strip_credentials(str(data.get("url", "")))
    subdirectory = data.get("subdirectory")
    fragment = f"#subdirectory={subdirectory}" if isinstance(subdirectory, str) and subdirectory else ""
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict):
        commit = installed_commit(data)
        kind = str(vcs.get("vcs") or "git")
        ref = f"@{commit}" if commit else ""
        notice = None if commit else "the VCS install recorded no commit: the line follows the branch; pin a commit"
        return Pin(f"{DISTRIBUTION} @ {kind}+{url}{ref}{fragment}", "vcs", notice, [], commit)
    archive = data.get("archive_info")
    if isinstance(archive, dict):
        raw = archive.get("hashes")
        hashes: dict[str, str] = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        legacy = archive.get("hash")
        if not hashes and isinstance(legacy, str) and "=" in legacy:
            name, _, value = legacy.partition("=")
            hashes = {name: value}
        algo: str | None = "sha256" if "sha256" in hashes else next(iter(sorted(hashes)), None)
        spec = f"{DISTRIBUTION} @ {url}{fragment}"
        notes = []
        if algo is not None:
            spec += f" --hash={algo}:{hashes[algo]}"
        else:
            notes.append("the install recorded no hash for it")
        if urlsplit(url).scheme == "file":
            notes.append("it is a file on this machine, which CI cannot read: publish it and edit the line")
        return Pin(spec, "archive", "; ".join(notes) or None, [])
    dir_info = data.get("dir_info")
    editable = isinstance(dir_info, dict) and bool(dir_info.get("editable"))
    if urlsplit(url).scheme == "file":
        return _directory_pin(url, version, editable)
    return Pin(f"{DISTRIBUTION} @ {url}{fragment}", "archive", f"installed from {url}, with no hash recorded", [])


def current_pin() -> Pin:
    """The requirement for the running llmctl."""
    from llmctl import __version__

    return pin_for(direct_url(), __version__)


def given_pin(spec: str) -> Pin:
    """`llmctl init --requirement SPEC`: checked to be a requirement for our distribution."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    text = spec.strip()
    head = text.split(" --hash", 1)[0]
    try:
        req = Requirement(head)
    except InvalidRequirement as exc:
        raise InputError(f"--requirement {spec!r} is not a valid requirement: {exc}") from None
    if canonicalize_name(req.name) != canonicalize_name(DISTRIBUTION):
        hint = " (the PyPI name `llmctl` is another project)" if canonicalize_name(req.name) == "llmctl" else ""
        raise InputError(f"--requirement must install {DISTRIBUTION}, not {req.name!r}{hint}")
    if "\n" in text or "\r" in text:
        raise InputError("--requirement must be one line")
    return Pin(text, "given", None, ["given with `llmctl init --requirement`"])


__all__ = [
    "DISTRIBUTION",
    "Pin",
    "current_pin",
    "direct_url",
    "given_pin",
    "installed_commit",
    "pin_for",
    "strip_credentials",
    "version_line",
]
