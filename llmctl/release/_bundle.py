"""Released prompts for applications: by label or version from the lockfile and git, or from a bundle.

A bundle (`llmctl bundle`) is one JSON file holding every release (or those
some labels point at) with its files, hash and labels, so a deployment can load
`summarize@production` without git. Every load checks the content hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmctl.config import Config
from llmctl.errors import InputError, RefError
from llmctl.prompt import Prompt, PromptLibrary
from llmctl.release import lockfile as lf
from llmctl.release._refs import load_lock, load_release, short_list
from llmctl.sources import open_repo

BUNDLE_FORMAT = "llmctl-bundle"
BUNDLE_VERSION = 1


class MemorySource:
    """Files held in memory (a bundle): the same interface as WorktreeSource/GitSource."""

    def __init__(self, files: dict[str, str], label: str = "bundle") -> None:
        self.files = dict(files)
        self.label = label

    def read(self, relpath: str, within: str | None = None) -> bytes | None:
        text = self.files.get(relpath)
        return None if text is None else text.encode("utf-8")

    def list_files(self, folder: str) -> list[str]:
        start = folder.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(start))


def _bundle_error(path: str, message: str) -> InputError:
    return InputError(message, file=path, hint="write a new bundle with `llmctl bundle`")


def read_bundle(path: str | Path) -> dict[str, Any]:
    shown = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("bundle not found", file=shown) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bundle_error(shown, f"not a valid bundle (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise _bundle_error(shown, f"not an llmctl bundle (format must be {BUNDLE_FORMAT!r})")
    if data.get("bundle_version") != BUNDLE_VERSION:
        raise _bundle_error(shown, f"unsupported bundle_version {data.get('bundle_version')!r}")
    if not isinstance(data.get("prompts"), dict):
        raise _bundle_error(shown, "bundle has no 'prompts' mapping")
    return data


def prompt_from_bundle(
    data: dict[str, Any], name: str, *, label: str | None = None, version: str | None = None, display: str = "bundle"
) -> Prompt:
    """A prompt from a bundle's in-memory files; the content hash is checked."""
    entry = data["prompts"].get(name)
    if not isinstance(entry, dict):
        raise RefError(f"unknown prompt {name!r} in {display}", hint=f"bundled: {short_list(sorted(data['prompts']))}")
    releases = entry.get("releases") or {}
    labels = entry.get("labels") or {}
    if label is not None:
        if label not in labels:
            raise RefError(
                f"prompt {name!r} has no label {label!r} in {display}", hint=f"labels: {short_list(sorted(labels))}"
            )
        version = labels[label]
    if version is None:
        if not releases:
            raise RefError(f"prompt {name!r} has no releases in {display}")
        version = max(releases, key=lf.version_number)
    release = releases.get(version)
    if not isinstance(release, dict):
        raise RefError(
            f"prompt {name!r} has no release {version} in {display}", hint=f"releases: {short_list(releases)}"
        )
    files = release.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise _bundle_error(display, f"{name} {version}: 'files' must map paths to text")
    prompts_dir = str(data.get("prompts_dir") or "prompts")
    source = MemorySource(files, label=f"{display}:{name}@{version}")
    prompt = PromptLibrary(source, prompts_dir).load_path(str(release.get("path")))
    if prompt.hash != release.get("hash"):
        raise _bundle_error(
            display, f"{name} {version}: content hash {prompt.hash} does not match the bundle's {release.get('hash')}"
        )
    return prompt


def build_bundle(cfg: Config, labels: list[str] | None = None) -> dict[str, Any]:
    """Every release (or only those some `labels` point at) with its files, hash and labels."""
    lock = load_lock(cfg)
    if not lock.prompts:
        raise InputError(
            f"nothing to bundle: {cfg.prompts_dir}/{lf.LOCKFILE_NAME} has no releases",
            hint="release a prompt with `llmctl promote NAME --to LABEL`",
        )
    if labels:
        unknown = [label for label in labels if label not in lock.label_names()]
        if unknown:
            raise RefError(f"unknown label {unknown[0]!r}", hint=f"labels: {short_list(sorted(lock.label_names()))}")
    repo = open_repo(cfg.root)
    prompts: dict[str, Any] = {}
    for name in sorted(lock.prompts):
        entry = lock.prompts[name]
        chosen = {lab: entry.labels[lab].version for lab in sorted(entry.labels) if not labels or lab in labels}
        versions = set(chosen.values()) if labels else set(entry.releases)
        if not versions:
            continue
        releases: dict[str, Any] = {}
        for release in entry.ordered_releases():
            if release.version not in versions:
                continue
            prompt = load_release(cfg, name, release, repo)
            raw = prompt.source.read(prompt.path, within=prompt.prompts_dir)
            files = {prompt.path: (raw or b"").decode("utf-8")}
            files.update(prompt.includes)
            releases[release.version] = {
                "hash": prompt.hash,
                "path": prompt.path,
                "commit": release.commit,
                "date": release.date,
                "content": prompt.data,
                "files": files,
            }
        prompts[name] = {"labels": chosen, "releases": releases}
    return {
        "format": BUNDLE_FORMAT,
        "bundle_version": BUNDLE_VERSION,
        "created": lf.now_iso(),
        "prompts_dir": cfg.prompts_dir,
        "prompts": prompts,
    }


def write_bundle(data: dict[str, Any], dest: Path) -> None:
    import os
    import tempfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
