"""Where prompt and evalset files are read from: the work tree or a git commit.

Both expose the same small interface so that a prompt (and everything it
includes) resolves identically at `WORKTREE`, `main` or `HEAD~2`.
"""

from __future__ import annotations

import posixpath
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from llmctl.errors import InputError, RefError

WORKTREE = "WORKTREE"  # the ref that names the files on disk


def split_ref(spec: str) -> tuple[str, str | None]:
    """`summarize@production` -> ("summarize", "production"); `summarize` -> ("summarize", None).

    The one parser of the `NAME[@REF]` syntax; what a REF means is decided by
    `llmctl.release.resolve_version`. `summarize@` gives ("summarize", "").
    """
    name, sep, ref = spec.partition("@")
    return name, (ref if sep else None)


class Source(Protocol):
    """Read-only view of the project's files (paths are POSIX, relative to the project root).

    `read(relpath, within=FOLDER)` follows symbolic links only while they stay inside
    FOLDER (a project-relative folder such as `prompts`); without `within`, inside the
    project. A link that leads anywhere else, or into a `.git` folder, is an InputError.
    """

    label: str

    def read(self, relpath: str, within: str | None = None) -> bytes | None: ...

    def list_files(self, folder: str) -> list[str]: ...


class WorktreeSource:
    """The files as they are on disk."""

    label = WORKTREE

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, relpath: str, within: str | None = None) -> bytes | None:
        path = self.root / relpath
        try:
            # A link anywhere on the way (the file or a folder above it) may lead out of `within`.
            check_contained(path, self.root, within, shown=relpath)
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
        """Every blob of the commit by repository path (symbolic links included, as link blobs)."""
        files: dict[str, Any] = {}
        for blob in self.commit.tree.traverse():
            if blob.type == "blob":
                files[blob.path] = blob
        return files

    def _resolve(self, path: str) -> str | None:
        """`path` (repository-relative) with every committed symbolic link on the way followed.

        None when a link leads out of the repository or loops; the caller then refuses it.
        """
        files = self._tree_files
        parts = path.split("/")
        hops = 0
        i = 0
        while i < len(parts):
            head = "/".join(parts[: i + 1])
            blob = files.get(head)
            if blob is not None and blob.mode == _GIT_LINK_MODE:
                hops += 1
                target = blob.data_stream.read().decode("utf-8", "surrogateescape")
                if hops > _MAX_LINK_HOPS or target.startswith("/"):
                    return None
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(head), target))
                if joined == ".." or joined.startswith("../"):
                    return None
                parts = [p for p in joined.split("/") if p not in ("", ".")] + parts[i + 1 :]
                i = 0
                continue
            i += 1
        return "/".join(parts)

    def read(self, relpath: str, within: str | None = None) -> bytes | None:
        wanted = self.prefix + relpath
        files = self._tree_files
        resolved = self._resolve(wanted)
        scope = self.prefix + (within.strip("/") + "/" if within else "")
        if resolved is None or not resolved.startswith(scope) or ".git" in resolved.split("/"):
            raise InputError(f"symbolic link points outside {_scope_name(within)} (at {self.label[:12]})", file=relpath)
        blob = files.get(resolved)
        if blob is None:
            return None
        data: bytes = blob.data_stream.read()
        return data

    def list_files(self, folder: str) -> list[str]:
        start = self.prefix + folder.rstrip("/") + "/"
        return sorted(p[len(self.prefix) :] for p in self._tree_files if p.startswith(start))


_GIT_LINK_MODE = 0o120000
_MAX_LINK_HOPS = 40


def _scope_name(within: str | None) -> str:
    return f"{within.strip('/')}/" if within else "the project"


def check_contained(path: Path, root: Path, within: str | None, *, shown: str) -> Path:
    """`path` with links resolved; an InputError when that leaves `root/within` or enters `.git`.

    `within` is a folder relative to `root` (e.g. `prompts`); None means the whole project.
    The folder itself is taken as written: if `prompts/` is a link out of the project,
    everything in it is outside.
    """
    real = path.resolve()
    if not is_inside(real, root, within):
        raise InputError(f"symbolic link points outside {_scope_name(within)}", file=shown)
    return real


def is_inside(real: Path, root: Path, within: str | None) -> bool:
    """Whether `real` (a path with links resolved) lies in `root/within` (None: the project), not in `.git`."""
    top = root.resolve()
    scope = top / within if within else top
    return real.is_relative_to(scope) and ".git" not in real.relative_to(top).parts


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
