"""Where prompt and evalset files are read from: the work tree or a git commit.

Both expose the same small interface so that a prompt (and everything it
includes) resolves identically at `WORKTREE`, `main` or `HEAD~2`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from llmctl.errors import InputError, RefError


class Source(Protocol):
    """Read-only view of the project's files (paths are POSIX, relative to the project root)."""

    label: str

    def read(self, relpath: str) -> bytes | None: ...

    def list_files(self, folder: str) -> list[str]: ...


class WorktreeSource:
    """The files as they are on disk."""

    label = "WORKTREE"

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, relpath: str) -> bytes | None:
        path = self.root / relpath
        try:
            # A link anywhere on the way (the file or a folder above it) may lead out of the project.
            if not path.resolve().is_relative_to(self.root.resolve()):
                raise InputError("symbolic link points outside the project", file=relpath)
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def list_files(self, folder: str) -> list[str]:
        base = self.root / folder
        if not base.is_dir():
            return []
        out = []
        for path in base.rglob("*"):
            if path.is_file():
                out.append(path.relative_to(self.root).as_posix())
        return sorted(out)


class GitSource:
    """The files as committed at one git revision, read from the object store.

    The work tree is never touched. `root` is the project root (where
    llmctl.yaml lives), which may be a sub-folder of the git repository.
    """

    def __init__(self, repo: Any, commit: Any, root: Path) -> None:
        self.repo = repo
        self.commit = commit
        self.label = commit.hexsha
        toplevel = Path(repo.working_tree_dir).resolve()
        rel = root.resolve().relative_to(toplevel).as_posix()
        self.prefix = "" if rel == "." else rel + "/"

    @cached_property
    def _tree_files(self) -> dict[str, Any]:
        files: dict[str, Any] = {}
        for blob in self.commit.tree.traverse():
            if blob.type == "blob":
                files[blob.path] = blob
        return files

    def read(self, relpath: str) -> bytes | None:
        blob = self._tree_files.get(self.prefix + relpath)
        if blob is None:
            return None
        data: bytes = blob.data_stream.read()
        return data

    def list_files(self, folder: str) -> list[str]:
        start = self.prefix + folder.rstrip("/") + "/"
        return sorted(p[len(self.prefix) :] for p in self._tree_files if p.startswith(start))


def safe_join(base: str, name: str, *, file: str | None = None, line: int | None = None) -> str:
    """Join `name` under folder `base` (POSIX), refusing absolute paths and `..` escapes."""
    if not name or name.startswith("/") or "\\" in name or ":" in name.split("/")[0]:
        raise InputError(f"path {name!r} must be relative to {base}/", file=file, line=line)
    parts: list[str] = []
    for part in PurePosixPath(name).parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise InputError(f"path {name!r} escapes {base}/", file=file, line=line)
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise InputError(f"empty path {name!r}", file=file, line=line)
    return f"{base}/{'/'.join(parts)}"


def open_repo(root: Path) -> Any:
    """The git repository containing `root` (gitpython imported only here)."""
    import git

    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RefError(f"not a git repository: {root}", hint="git refs need a repository; use WORKTREE") from None
