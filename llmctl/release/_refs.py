"""`[PROMPT@]REF` resolution: the one resolver of prompt versions.

A REF is, in order of precedence:

1. `WORKTREE`: the files on disk;
2. `vN`: the N-th release of a prompt, from `prompts/llmctl.lock`;
3. a label (`production`, `staging`, ...) from the lockfile;
4. a git ref (branch, tag, `HEAD~2`, SHA), read from git's object store
   without touching the work tree (includes resolve at the same commit).

A name that is both a label and a git ref is ambiguous; write `label:NAME` or
`git:NAME`. Releases are loaded from the commit recorded in the lockfile and
their content hash is checked against it. Git refs are resolved by
`git rev-parse --verify` only (`git_commit`), whoever asks: the runner, `diff`,
`render`, `promote` and `load_prompt`.

gitpython is imported lazily (via `llmctl.sources.open_repo`), and nothing here
imports litellm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmctl.config import Config
from llmctl.errors import InputError, RefError
from llmctl.prompt import Prompt, PromptLibrary
from llmctl.release import lockfile as lf
from llmctl.sources import WORKTREE, GitSource, Source, WorktreeSource, open_repo, split_ref

_MAX_LISTED = 12


@dataclass
class ResolvedVersion:
    """A prompt at a REF, with how the REF was understood."""

    prompt: Prompt
    ref: str
    kind: str  # "worktree" | "release" | "label" | "git"
    commit: str | None = None  # the git commit the content was read from
    version: str | None = None  # vN, when it is a release
    label: str | None = None

    @property
    def display(self) -> str:
        return f"{self.prompt.name}@{self.ref}"


def split_kind(ref: str) -> tuple[str, str]:
    """`label:prod` -> ("label", "prod"); `git:main` -> ("git", "main"); else ("auto", ref)."""
    for prefix in ("label", "git"):
        if ref.startswith(prefix + ":"):
            value = ref[len(prefix) + 1 :]
            if not value:
                raise RefError(f"empty {prefix} name in {ref!r}")
            return prefix, value
    return "auto", ref


def git_commit(repo: Any, ref: str) -> Any | None:
    """The commit a git ref names, or None (`-`-prefixed refs are never passed to git)."""
    import git

    if not ref or ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
        return None
    try:
        sha = repo.git.rev_parse("--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").strip()
    except git.GitCommandError:
        return None
    if not sha:
        return None
    return repo.commit(sha)


def _git_candidates(repo: Any) -> list[str]:
    try:
        names = [h.name for h in repo.heads] + [t.name for t in repo.tags]
    except Exception:  # a broken ref must not hide the real error
        return []
    return names


def short_list(items: Iterable[str]) -> str:
    """`a, b, c` (at most 12, then `... (N more)`), or `(none)`: candidates named in a hint."""
    items = list(items)
    if not items:
        return "(none)"
    more = f", ... ({len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def _repo(cfg: Config, repo: Any | None = None) -> Any:
    return repo if repo is not None else open_repo(cfg.root)


def load_lock(cfg: Config) -> lf.Lockfile:
    return lf.load_for(cfg.root, cfg.prompts_dir)


def library_at(cfg: Config, repo: Any, commit: Any) -> PromptLibrary:
    return PromptLibrary(GitSource(repo, commit, cfg.root), cfg.prompts_dir)


def worktree_library(cfg: Config) -> PromptLibrary:
    return PromptLibrary(WorktreeSource(cfg.root), cfg.prompts_dir)


def load_release(cfg: Config, name: str, release: lf.Release, repo: Any | None = None) -> Prompt:
    """A released version, read at its commit; its content hash must match the lockfile."""
    repo = _repo(cfg, repo)
    commit = git_commit(repo, release.commit)
    if commit is None:
        raise RefError(
            f"{name} {release.version}: commit {release.commit[:12]} is not in this repository",
            file=f"{cfg.prompts_dir}/{lf.LOCKFILE_NAME}",
            hint="fetch the full history (e.g. `git fetch --unshallow`) or use a bundle",
        )
    prompt = library_at(cfg, repo, commit).get(name)
    if prompt.hash != release.hash:
        raise InputError(
            f"{name} {release.version}: the content at {release.commit[:12]} has hash {prompt.hash}, "
            f"but the lockfile records {release.hash}",
            file=f"{cfg.prompts_dir}/{lf.LOCKFILE_NAME}",
            hint="the lockfile or the history was edited; restore it from git",
        )
    return prompt


def _release_or_error(lock: lf.Lockfile, name: str, version: str) -> lf.Release:
    entry = lock.entry(name)
    if entry is None or not entry.releases:
        raise RefError(
            f"prompt {name!r} has no releases (so no {version})",
            hint=f"release it with `llmctl promote {name} --to LABEL`; prompts with releases: "
            + short_list(sorted(n for n, e in lock.prompts.items() if e.releases)),
        )
    release = entry.releases.get(version)
    if release is None:
        raise RefError(
            f"prompt {name!r} has no release {version}",
            hint=f"its releases: {short_list(r.version for r in entry.ordered_releases())}; "
            f"for a git ref named {version} write git:{version}",
        )
    return release


def resolve_version(
    cfg: Config,
    name: str,
    ref: str,
    *,
    repo: Any | None = None,
    lock: lf.Lockfile | None = None,
) -> ResolvedVersion:
    """Resolve `name@ref` (see the module docstring for the precedence)."""
    if not name:
        raise RefError("missing prompt name before '@'")
    if not ref:
        raise RefError(f"missing version after '{name}@'", hint="e.g. v3, production, main or WORKTREE")
    if ref == WORKTREE:
        return ResolvedVersion(worktree_library(cfg).get(name), ref, "worktree")
    kind, value = split_kind(ref)
    lock = lock if lock is not None else load_lock(cfg)
    if kind == "auto" and lf.is_version(value):
        release = _release_or_error(lock, name, value)
        prompt = load_release(cfg, name, release, repo)
        return ResolvedVersion(prompt, ref, "release", release.commit, release.version)
    entry = lock.entry(name)
    if kind in ("auto", "label"):
        is_label = value in lock.label_names()
        if kind == "label" and not is_label:
            raise RefError(
                f"unknown label {value!r}",
                hint=f"labels in {cfg.prompts_dir}/{lf.LOCKFILE_NAME}: {short_list(sorted(lock.label_names()))}",
            )
        if is_label:
            if kind == "auto":
                repo = _repo(cfg, repo)
                if git_commit(repo, value) is not None:
                    raise _ambiguous(value)
            if entry is None or value not in entry.labels:
                holders = sorted(n for n, e in lock.prompts.items() if value in e.labels)
                raise RefError(
                    f"prompt {name!r} has no label {value!r}",
                    hint=f"prompts labelled {value}: {short_list(holders)}; "
                    f"labels of {name}: {short_list(sorted(entry.labels) if entry else [])}",
                )
            release = entry.releases[entry.labels[value].version]
            prompt = load_release(cfg, name, release, repo)
            return ResolvedVersion(prompt, ref, "label", release.commit, release.version, value)
    repo = _repo(cfg, repo)
    commit = git_commit(repo, value)
    if commit is None:
        raise _unknown_ref(ref, repo, lock, name)
    prompt = library_at(cfg, repo, commit).get(name)
    return ResolvedVersion(prompt, ref, "git", commit.hexsha)


def _ambiguous(value: str) -> RefError:
    return RefError(
        f"ambiguous ref {value!r}: it is both a label in the lockfile and a git ref",
        hint=f"write label:{value} or git:{value}",
    )


def _unknown_ref(ref: str, repo: Any, lock: lf.Lockfile, name: str | None) -> RefError:
    parts = []
    if name is not None:
        entry = lock.entry(name)
        if entry is not None and entry.releases:
            parts.append("releases " + short_list(r.version for r in entry.ordered_releases()))
        if entry is not None and entry.labels:
            parts.append("labels " + short_list(sorted(entry.labels)))
    elif lock.prompts:
        versions = sorted(
            {r.version for e in lock.prompts.values() for r in e.releases.values()}, key=lf.version_number
        )
        if versions:
            parts.append("releases " + short_list(versions))
        if lock.label_names():
            parts.append("labels " + short_list(sorted(lock.label_names())))
    parts.append("git refs " + short_list(_git_candidates(repo)))
    parts.append("or WORKTREE")
    return RefError(f"unknown ref {ref!r}", hint="known: " + "; ".join(parts))


def resolve_all_versions(cfg: Config, ref: str, *, repo: Any | None = None) -> dict[str, ResolvedVersion]:
    """A bare REF applied to every prompt that has it: name -> ResolvedVersion."""
    if not ref:
        raise RefError("empty ref", hint="e.g. v3, production, main or WORKTREE")
    if ref == WORKTREE:
        return {p.name: ResolvedVersion(p, ref, "worktree") for p in worktree_library(cfg).all()}
    kind, value = split_kind(ref)
    lock = load_lock(cfg)
    out: dict[str, ResolvedVersion] = {}
    if kind == "auto" and lf.is_version(value):
        for name in sorted(lock.prompts):
            release = lock.prompts[name].releases.get(value)
            if release is not None:
                prompt = load_release(cfg, name, release, _repo(cfg, repo))
                out[name] = ResolvedVersion(prompt, ref, "release", release.commit, value)
        if not out:
            raise RefError(
                f"no prompt has a release {value}",
                hint="releases in the lockfile: "
                + short_list(sorted({f"{n}@{v}" for n, e in lock.prompts.items() for v in e.releases})),
            )
        return out
    if kind in ("auto", "label"):
        is_label = value in lock.label_names()
        if kind == "label" and not is_label:
            raise RefError(f"unknown label {value!r}", hint=f"labels: {short_list(sorted(lock.label_names()))}")
        if is_label:
            repo = _repo(cfg, repo)
            if kind == "auto" and git_commit(repo, value) is not None:
                raise _ambiguous(value)
            for name in sorted(lock.prompts):
                entry = lock.prompts[name]
                if value in entry.labels:
                    release = entry.releases[entry.labels[value].version]
                    prompt = load_release(cfg, name, release, repo)
                    out[name] = ResolvedVersion(prompt, ref, "label", release.commit, release.version, value)
            return out
    repo = _repo(cfg, repo)
    commit = git_commit(repo, value)
    if commit is None:
        raise _unknown_ref(ref, repo, lock, None)
    for prompt in library_at(cfg, repo, commit).all():
        out[prompt.name] = ResolvedVersion(prompt, ref, "git", commit.hexsha)
    return out


def resolve_all(cfg: Config, ref: str) -> dict[str, Prompt]:
    """A bare REF (`v3`, `production`, `main`, `WORKTREE`) for every prompt that has it."""
    return {name: rv.prompt for name, rv in resolve_all_versions(cfg, ref).items()}


def prompt_at(cfg: Config, name: str, ref: str | None) -> Prompt:
    """`name` at `ref` as a Prompt (None: the work tree)."""
    if ref is None:
        return worktree_library(cfg).get(name)
    return resolve_version(cfg, name, ref).prompt


def load_prompt_ref(cfg: Config, spec: str) -> Prompt:
    """`summarize` (work tree), `summarize@WORKTREE`, or `summarize@REF` (git, labels, vN)."""
    name, ref = split_ref(spec)
    return prompt_at(cfg, name, ref)


def source_at(cfg: Config, ref: str | None) -> Source:
    """The project's files at a git ref (None or WORKTREE: the work tree).

    A label or a release is not a place files are read from: it is a RefError
    (as is an unknown ref), so callers compare prompts only.
    """
    if ref is None or ref == WORKTREE:
        return WorktreeSource(cfg.root)
    kind, value = split_kind(ref)
    repo = open_repo(cfg.root)
    commit = git_commit(repo, value) if kind != "label" else None
    if commit is None:
        raise RefError(f"unknown git ref {ref!r}", hint="use a branch, tag, SHA or HEAD~N")
    return GitSource(repo, commit, cfg.root)
