"""`prompts/llmctl.lock`: released prompt versions and the labels that point at them.

The lockfile is tracked YAML, written only by `llmctl promote`, so that every
release and label move is a reviewable commit:

    # llmctl lockfile ...
    lockfile_version: 1
    prompts:
      summarize:
        releases:
          v1:
            hash: sha256:...
            commit: 3f2a...          # the commit holding that content
            date: '2025-01-31T10:00:00Z'
            author: Ana <ana@example.com>
            forced: false
            evals:
              - {evalset: summarize, run: r2025..., gate_passed: true}
        labels:
          production:
            version: v1
            history:
              - {version: v1, date: ..., author: ..., commit: ..., forced: false}

Keys are written in a fixed order (prompts and labels sorted, releases by
number) so that a promotion changes as few lines as possible. A hand-edited
file that breaks the rules is an InputError naming the line.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from llmctl import fmt
from llmctl.errors import InputError
from llmctl.yamlio import LineDict, LineList, decode_text, load_yaml_text

LOCKFILE_NAME = "llmctl.lock"
LOCKFILE_VERSION = 1
HEADER = (
    "# llmctl lockfile: released prompt versions and their labels.\n"
    "# Written by `llmctl promote`; review changes like code. Do not edit by hand.\n"
)
VERSION_RE = re.compile(r"^v([1-9][0-9]*)$")
LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
RESERVED_LABELS = {"WORKTREE", "HEAD", "latest", "git", "label"}
_HASH_RE = re.compile(r"^[a-z0-9]+:[0-9a-f]{16,}$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{7,64}$")

_TOP_KEYS = {"lockfile_version", "prompts"}
_PROMPT_KEYS = {"releases", "labels"}
_RELEASE_KEYS = {"hash", "commit", "date", "author", "forced", "evals", "message"}
_EVAL_KEYS = {"evalset", "run", "gate_passed"}
_LABEL_KEYS = {"version", "history"}
_HISTORY_KEYS = {"version", "date", "author", "commit", "forced"}


def version_number(version: str) -> int:
    """3 for `v3`; ValueError for anything else."""
    match = VERSION_RE.match(version)
    if not match:
        raise ValueError(f"not a version: {version!r}")
    return int(match.group(1))


def is_version(text: str) -> bool:
    return VERSION_RE.match(text) is not None


def check_label_name(label: str) -> None:
    """Refuse label names that are empty, have spaces/odd characters, or look like versions."""
    if not LABEL_RE.match(label or ""):
        raise InputError(
            f"invalid label name {label!r}",
            hint="a label starts with a letter and has only letters, digits, '.', '_' and '-' (no spaces)",
        )
    if is_version(label) or label in RESERVED_LABELS or label.endswith((".lock", ".")) or ".." in label:
        raise InputError(
            f"{label!r} cannot be a label name (reserved, or it looks like a version or git ref syntax)",
            hint="pick a name like production or staging",
        )


def now_iso() -> str:
    return fmt.now()


@dataclass
class EvalRecord:
    evalset: str
    run: str
    gate_passed: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"evalset": self.evalset, "run": self.run, "gate_passed": self.gate_passed}


@dataclass
class Release:
    version: str
    hash: str
    commit: str
    date: str
    author: str = ""
    forced: bool = False
    evals: list[EvalRecord] = field(default_factory=list)
    message: str | None = None

    @property
    def number(self) -> int:
        return version_number(self.version)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "hash": self.hash,
            "commit": self.commit,
            "date": self.date,
            "author": self.author,
            "forced": self.forced,
            "evals": [e.to_dict() for e in self.evals],
        }
        if self.message:
            data["message"] = self.message
        return data


@dataclass
class LabelMove:
    version: str
    date: str
    author: str = ""
    commit: str | None = None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "date": self.date,
            "author": self.author,
            "commit": self.commit,
            "forced": self.forced,
        }


@dataclass
class Label:
    name: str
    version: str
    history: list[LabelMove] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "history": [h.to_dict() for h in self.history]}


@dataclass
class PromptEntry:
    name: str
    releases: dict[str, Release] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)

    def ordered_releases(self) -> list[Release]:
        return sorted(self.releases.values(), key=lambda r: r.number)

    def release_for_hash(self, content_hash: str) -> Release | None:
        for release in self.releases.values():
            if release.hash == content_hash:
                return release
        return None

    def next_version(self) -> str:
        return f"v{max((r.number for r in self.releases.values()), default=0) + 1}"

    def labels_of(self, version: str) -> list[str]:
        return sorted(name for name, label in self.labels.items() if label.version == version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "releases": {r.version: r.to_dict() for r in self.ordered_releases()},
            "labels": {name: self.labels[name].to_dict() for name in sorted(self.labels)},
        }


@dataclass
class Lockfile:
    """The parsed lockfile. `path` is where it was read from (or will be written)."""

    path: Path
    prompts: dict[str, PromptEntry] = field(default_factory=dict)
    exists: bool = False

    def entry(self, name: str) -> PromptEntry | None:
        return self.prompts.get(name)

    def ensure_entry(self, name: str) -> PromptEntry:
        if name not in self.prompts:
            self.prompts[name] = PromptEntry(name=name)
        return self.prompts[name]

    def label_names(self) -> set[str]:
        return {label for entry in self.prompts.values() for label in entry.labels}

    def to_dict(self) -> dict[str, Any]:
        return {
            "lockfile_version": LOCKFILE_VERSION,
            "prompts": {name: self.prompts[name].to_dict() for name in sorted(self.prompts)},
        }

    def dumps(self) -> str:
        return dumps(self)


def lockfile_path(root: Path, prompts_dir: str = "prompts") -> Path:
    return root / prompts_dir / LOCKFILE_NAME


def dumps(lock: Lockfile) -> str:
    body = yaml.safe_dump(lock.to_dict(), sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
    return HEADER + body


def save(lock: Lockfile) -> None:
    """Write atomically: a temp file in the same folder, then rename over the lockfile."""
    text = dumps(lock)
    validate_text(text, str(lock.path))  # never write what we could not read back
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".llmctl.lock.", suffix=".tmp", dir=lock.path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if lock.path.exists():
            os.chmod(tmp, lock.path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, lock.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    lock.exists = True


def load(path: Path, display: str | None = None) -> Lockfile:
    """Read and validate a lockfile; a missing file is an empty lockfile."""
    shown = display or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Lockfile(path=path)
    lock = parse_text(decode_text(data, shown), shown, path)
    lock.exists = True
    return lock


def load_for(root: Path, prompts_dir: str = "prompts") -> Lockfile:
    path = lockfile_path(root, prompts_dir)
    return load(path, display=f"{prompts_dir}/{LOCKFILE_NAME}")


def validate_text(text: str, display: str) -> None:
    parse_text(text, display, Path(display))


def parse_text(text: str, display: str, path: Path) -> Lockfile:
    """Parse lockfile text; every problem is an InputError with file and line."""
    data = load_yaml_text(text, display)
    lock = Lockfile(path=path)
    if data is None:
        return lock
    if not isinstance(data, LineDict):
        raise InputError("the lockfile must be a YAML mapping", file=display, line=1)
    _keys(data, _TOP_KEYS, display, "the lockfile")
    fmt = data.get("lockfile_version", LOCKFILE_VERSION)
    if fmt != LOCKFILE_VERSION:
        raise InputError(
            f"unsupported lockfile_version {fmt!r} (this llmctl reads {LOCKFILE_VERSION})",
            file=display,
            line=data.line_of("lockfile_version"),
        )
    prompts = data.get("prompts")
    if prompts is None:
        return lock
    if not isinstance(prompts, LineDict):
        raise InputError("'prompts' must be a mapping of prompt name", file=display, line=data.line_of("prompts"))
    for name, raw in prompts.items():
        lock.prompts[name] = _parse_entry(name, raw, prompts.line_of(name), display)
    return lock


def _keys(data: LineDict, allowed: set[str], display: str, what: str) -> None:
    for key in data:
        if key not in allowed:
            raise InputError(
                f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})",
                file=display,
                line=data.line_of(key),
            )


def _mapping(value: Any, display: str, line: int, what: str) -> LineDict:
    if value is None:
        empty = LineDict()
        empty.line = line
        empty.key_lines = {}
        return empty
    if not isinstance(value, LineDict):
        raise InputError(f"{what} must be a mapping", file=display, line=line)
    return value


def _text(data: LineDict, key: str, display: str, what: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InputError(f"{what} needs '{key}'", file=display, line=data.line)
        return None
    if isinstance(value, (datetime, date)):
        return fmt.time(value)  # YAML read an unquoted date or time
    if not isinstance(value, str):
        raise InputError(f"'{key}' of {what} must be a string", file=display, line=data.line_of(key))
    return value


def _bool(data: LineDict, key: str, display: str, what: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InputError(f"'{key}' of {what} must be true or false", file=display, line=data.line_of(key))
    return value


def _parse_entry(name: str, raw: Any, line: int, display: str) -> PromptEntry:
    if not name or any(c.isspace() for c in name) or "@" in name:
        raise InputError(f"invalid prompt name {name!r}", file=display, line=line)
    data = _mapping(raw, display, line, f"prompt {name!r}")
    _keys(data, _PROMPT_KEYS, display, f"prompt {name!r}")
    entry = PromptEntry(name=name)
    releases = _mapping(data.get("releases"), display, data.line_of("releases"), f"releases of {name!r}")
    hashes: dict[str, str] = {}
    for version, rel_raw in releases.items():
        rline = releases.line_of(version)
        if not is_version(version):
            raise InputError(f"release {version!r} of {name!r} must be named v1, v2, ...", file=display, line=rline)
        what = f"release {name} {version}"
        rel = _mapping(rel_raw, display, rline, what)
        if rel_raw is None:
            raise InputError(f"{what} is empty", file=display, line=rline)
        _keys(rel, _RELEASE_KEYS, display, what)
        content_hash = _text(rel, "hash", display, what) or ""
        if not _HASH_RE.match(content_hash):
            raise InputError(
                f"'hash' of {what} must look like sha256:<hex>, got {content_hash!r}",
                file=display,
                line=rel.line_of("hash"),
            )
        if content_hash in hashes:
            raise InputError(
                f"{what} has the same content hash as {hashes[content_hash]} (one content, one version)",
                file=display,
                line=rel.line_of("hash"),
            )
        hashes[content_hash] = version
        commit = _text(rel, "commit", display, what) or ""
        if not _COMMIT_RE.match(commit):
            raise InputError(
                f"'commit' of {what} must be a git commit SHA, got {commit!r}", file=display, line=rel.line_of("commit")
            )
        evals_raw = rel.get("evals") or []
        if not isinstance(evals_raw, list):
            raise InputError(f"'evals' of {what} must be a list", file=display, line=rel.line_of("evals"))
        evals = []
        for i, item in enumerate(evals_raw):
            eline = evals_raw.line_of(i) if isinstance(evals_raw, LineList) else rel.line_of("evals")
            ev = _mapping(item, display, eline, f"an eval of {what}")
            _keys(ev, _EVAL_KEYS, display, f"an eval of {what}")
            passed = ev.get("gate_passed")
            if passed is not None and not isinstance(passed, bool):
                raise InputError(
                    "'gate_passed' must be true, false or null", file=display, line=ev.line_of("gate_passed")
                )
            evals.append(
                EvalRecord(
                    evalset=_text(ev, "evalset", display, f"an eval of {what}") or "",
                    run=_text(ev, "run", display, f"an eval of {what}") or "",
                    gate_passed=passed,
                )
            )
        entry.releases[version] = Release(
            version=version,
            hash=content_hash,
            commit=commit,
            date=_text(rel, "date", display, what) or "",
            author=_text(rel, "author", display, what, required=False) or "",
            forced=_bool(rel, "forced", display, what),
            evals=evals,
            message=_text(rel, "message", display, what, required=False),
        )
    labels = _mapping(data.get("labels"), display, data.line_of("labels"), f"labels of {name!r}")
    for label_name, lab_raw in labels.items():
        lline = labels.line_of(label_name)
        try:
            check_label_name(label_name)
        except InputError as exc:
            raise InputError(exc.message, file=display, line=lline, hint=exc.hint) from None
        what = f"label {label_name!r} of {name!r}"
        lab = _mapping(lab_raw, display, lline, what)
        _keys(lab, _LABEL_KEYS, display, what)
        version = _text(lab, "version", display, what) or ""
        if version not in entry.releases:
            raise InputError(
                f"{what} points at {version!r}, which is not a release of {name!r}"
                f" (releases: {', '.join(entry.releases) or 'none'})",
                file=display,
                line=lab.line_of("version"),
            )
        history_raw = lab.get("history") or []
        if not isinstance(history_raw, list):
            raise InputError(f"'history' of {what} must be a list", file=display, line=lab.line_of("history"))
        history = []
        for i, item in enumerate(history_raw):
            hline = history_raw.line_of(i) if isinstance(history_raw, LineList) else lab.line_of("history")
            move = _mapping(item, display, hline, f"a history entry of {what}")
            _keys(move, _HISTORY_KEYS, display, f"a history entry of {what}")
            hversion = _text(move, "version", display, f"a history entry of {what}") or ""
            if not is_version(hversion):
                raise InputError(
                    f"history entry of {what} names {hversion!r}, not a version",
                    file=display,
                    line=move.line_of("version"),
                )
            history.append(
                LabelMove(
                    version=hversion,
                    date=_text(move, "date", display, f"a history entry of {what}", required=False) or "",
                    author=_text(move, "author", display, f"a history entry of {what}", required=False) or "",
                    commit=_text(move, "commit", display, f"a history entry of {what}", required=False),
                    forced=_bool(move, "forced", display, f"a history entry of {what}"),
                )
            )
        entry.labels[label_name] = Label(name=label_name, version=version, history=history)
    return entry
