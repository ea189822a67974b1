"""`llmctl promote` as a recoverable transaction, one at a time per repository.

A promotion writes the lockfile, stages it, commits it and tags the release. A
kill between any two of those steps must not leave a state that blocks every
later promote, or a release without its tag. So:

- `promotion_lock(repo)`: an advisory lock (`flock` on `<git common dir>/llmctl-promote.lock`)
  held for the whole promotion; a second promote waits for it (up to `timeout`),
  then refuses. The kernel drops the lock when its holder dies.
- `Journal`: before the lockfile is touched, what the promotion is about to do
  (the old lockfile, the new one, the commit it is based on, the tag) is written to
  `<git dir>/llmctl-promote.json`, and removed when the tag is made.
- `recover(repo)`: run under the lock before every promote. A journal left behind
  means a promotion was killed: if its commit exists, the promotion is finished
  (the missing tag is made); if not, it is rolled back (lockfile restored, index
  reset). Temp files of a killed lockfile save are removed either way.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llmctl.errors import InputError
from llmctl.hashing import sha256_hex
from llmctl.locks import flock_exclusive

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

JOURNAL_NAME = "llmctl-promote.json"
LOCK_NAME = "llmctl-promote.lock"
TEMP_GLOB = ".llmctl.lock.*.tmp"  # what lockfile.save leaves when killed mid-write


def _git_dir(repo: Any) -> Path:
    return Path(repo.git_dir)


def _common_dir(repo: Any) -> Path:
    return Path(getattr(repo, "common_dir", None) or repo.git_dir)


@contextlib.contextmanager
def promotion_lock(repo: Any, timeout: float = 60.0) -> Iterator[None]:
    """Hold the repository's promote lock; wait up to `timeout` seconds for another promote."""
    if fcntl is None:
        yield
        return
    path = _common_dir(repo) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not flock_exclusive(fd, timeout, poll=0.05):
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            who = f" (PID {holder})" if holder.isdigit() else ""
            raise InputError(
                f"another llmctl promote{who} is running in this repository; gave up after waiting {timeout:g}s",
                hint="let it finish, then promote again",
            )
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing drops the lock


@dataclass
class Journal:
    """What a promotion in progress is doing (enough to finish it or to undo it)."""

    prompt: str
    label: str
    version: str
    lock_rel: str  # the lockfile, relative to the work tree
    old_lock: str | None  # base64 of the lockfile before, None when there was none
    new_sha256: str  # of the lockfile being written
    head_before: str  # the commit the promotion commit is made on
    subject: str  # the promotion commit's subject line
    tag: str | None
    tag_target: str | None
    tag_message: str | None

    @staticmethod
    def path(repo: Any) -> Path:
        return _git_dir(repo) / JOURNAL_NAME

    def write(self, repo: Any) -> None:
        path = self.path(repo)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def read(cls, repo: Any) -> Journal | None:
        path = cls.path(repo)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"cannot read the journal of an interrupted promotion: {exc}",
                file=path,
                hint="check prompts/llmctl.lock and the last commit by hand, then delete this file",
            ) from None

    @classmethod
    def remove(cls, repo: Any) -> None:
        cls.path(repo).unlink(missing_ok=True)


def begin(
    repo: Any,
    *,
    prompt: str,
    label: str,
    version: str,
    lock_path: Path,
    lock_rel: str,
    new_text: str,
    subject: str,
    tag: str | None,
    tag_target: str | None,
    tag_message: str | None,
) -> None:
    """Record a promotion about to write `new_text` to the lockfile (call before writing it)."""
    old = lock_path.read_bytes() if lock_path.exists() else None
    Journal(
        prompt=prompt,
        label=label,
        version=version,
        lock_rel=lock_rel,
        old_lock=base64.b64encode(old).decode("ascii") if old is not None else None,
        new_sha256=sha256_hex(new_text),
        head_before=repo.head.commit.hexsha,
        subject=subject,
        tag=tag,
        tag_target=tag_target,
        tag_message=tag_message,
    ).write(repo)


def done(repo: Any) -> None:
    """The promotion finished (or was undone by its own error handling)."""
    Journal.remove(repo)


def _blob_sha(repo: Any, rev: str, rel: str) -> str | None:
    import git

    try:
        data = repo.git.cat_file("blob", f"{rev}:{rel}", stdout_as_string=False, strip_newline_in_stdout=False)
    except git.GitCommandError:
        return None
    return sha256_hex(data)


def _promotion_commit(repo: Any, j: Journal) -> str | None:
    """The commit the journal's promotion made (a child of `head_before` with its subject and lockfile)."""
    import git

    try:
        lines = repo.git.log("--format=%H %P", f"{j.head_before}..HEAD").splitlines()
    except git.GitCommandError:
        return None
    for line in lines:
        sha, *parents = line.split()
        if parents != [j.head_before]:
            continue
        if repo.git.log("-1", "--format=%s", sha) != j.subject:
            continue
        if _blob_sha(repo, sha, j.lock_rel) == j.new_sha256:
            return str(sha)
    return None


def _remove_temp_files(folder: Path) -> None:
    with contextlib.suppress(OSError):
        for tmp in folder.glob(TEMP_GLOB):
            tmp.unlink(missing_ok=True)


def recover(repo: Any, lock_path: Path) -> list[str]:
    """Finish or roll back a promotion that was killed; returns what was done (for the user)."""
    import git

    j = Journal.read(repo)
    _remove_temp_files(lock_path.parent)
    if j is None:
        return []
    what = f"{j.prompt} {j.version} to {j.label}"
    if _promotion_commit(repo, j) is not None:
        note = f"finished an interrupted promotion of {what} (its commit was made"
        if j.tag and j.tag not in [t.name for t in repo.tags]:
            repo.git.tag("-a", j.tag, j.tag_target, "-m", j.tag_message or j.subject)
            note += f"; tagged {j.tag} now"
        Journal.remove(repo)
        return [note + ")"]
    path = Path(repo.working_tree_dir) / j.lock_rel
    current = path.read_bytes() if path.exists() else None
    old = base64.b64decode(j.old_lock) if j.old_lock is not None else None
    ours = current is not None and sha256_hex(current) == j.new_sha256
    if current != old and not ours:
        raise InputError(
            f"an interrupted promotion of {what} left {j.lock_rel} changed by something else than llmctl",
            file=Journal.path(repo),
            hint=f"restore {j.lock_rel} (git checkout -- {j.lock_rel}) or keep your edit, then delete this file",
        )
    if old is None:
        path.unlink(missing_ok=True)
    elif current != old:
        tmp = path.with_name(f".llmctl.lock.recover-{os.getpid()}.tmp")
        tmp.write_bytes(old)
        os.replace(tmp, path)
    with contextlib.suppress(git.GitCommandError):
        repo.git.reset("-q", "--", j.lock_rel)
    Journal.remove(repo)
    return [f"rolled back an interrupted promotion of {what} (it was killed before its commit)"]
