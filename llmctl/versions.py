"""Prompt versions: `[PROMPT@]REF` resolution, promotion, release loading and bundles.

A REF is, in order of precedence:

1. `WORKTREE`: the files on disk;
2. `vN`: the N-th release of a prompt, from `prompts/llmctl.lock`;
3. a label (`production`, `staging`, ...) from the lockfile;
4. a git ref (branch, tag, `HEAD~2`, SHA), read from git's object store
   without touching the work tree (includes resolve at the same commit).

A name that is both a label and a git ref is ambiguous; write `label:NAME` or
`git:NAME`. Releases are loaded from the commit recorded in the lockfile and
their content hash is checked against it.

gitpython is imported lazily (via `llmctl.sources.open_repo`), and nothing here
imports litellm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llmctl import lockfile as lf
from llmctl import promote_tx
from llmctl.config import Config
from llmctl.errors import GateFailed, InputError, RefError
from llmctl.prompt import Prompt, PromptLibrary
from llmctl.sources import GitSource, Source, WorktreeSource, open_repo
from llmctl.types import CaseOutcome

WORKTREE = "WORKTREE"
BUNDLE_FORMAT = "llmctl-bundle"
BUNDLE_VERSION = 1
_MAX_LISTED = 12


class StoreLike(Protocol):
    """The part of `llmctl.store.Store` this module reads."""

    def latest_run_for(
        self, prompt: str, version_hash: str, evalset: str | None = None, *, candidate_only: bool = False
    ) -> dict[str, Any] | None: ...

    def runs_for_version(self, prompt: str, version_hash: str) -> list[dict[str, Any]]: ...

    def get_run(self, run_id_or_prefix: str) -> dict[str, Any]: ...

    def outcomes(self, run_id: str) -> list[CaseOutcome]: ...


# -- sources -------------------------------------------------------------------------------------


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


# -- refs ----------------------------------------------------------------------------------------


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


def _list(items: Iterable[str]) -> str:
    items = list(items)
    if not items:
        return "(none)"
    more = f", ... ({len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def _repo(cfg: Config, repo: Any | None = None) -> Any:
    return repo if repo is not None else open_repo(cfg.root)


def _load_lock(cfg: Config) -> lf.Lockfile:
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
            + _list(sorted(n for n, e in lock.prompts.items() if e.releases)),
        )
    release = entry.releases.get(version)
    if release is None:
        raise RefError(
            f"prompt {name!r} has no release {version}",
            hint=f"its releases: {_list(r.version for r in entry.ordered_releases())}; "
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
    lock = lock if lock is not None else _load_lock(cfg)
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
                hint=f"labels in {cfg.prompts_dir}/{lf.LOCKFILE_NAME}: {_list(sorted(lock.label_names()))}",
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
                    hint=f"prompts labelled {value}: {_list(holders)}; "
                    f"labels of {name}: {_list(sorted(entry.labels) if entry else [])}",
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
            parts.append("releases " + _list(r.version for r in entry.ordered_releases()))
        if entry is not None and entry.labels:
            parts.append("labels " + _list(sorted(entry.labels)))
    elif lock.prompts:
        versions = sorted(
            {r.version for e in lock.prompts.values() for r in e.releases.values()}, key=lf.version_number
        )
        if versions:
            parts.append("releases " + _list(versions))
        if lock.label_names():
            parts.append("labels " + _list(sorted(lock.label_names())))
    parts.append("git refs " + _list(_git_candidates(repo)))
    parts.append("or WORKTREE")
    return RefError(f"unknown ref {ref!r}", hint="known: " + "; ".join(parts))


def resolve_prompt_version(cfg: Config, name: str, ref: str) -> Prompt:
    """`name@ref` as a Prompt (used by `llmctl.resolve.load_prompt_ref`)."""
    return resolve_version(cfg, name, ref).prompt


def resolve_all_versions(cfg: Config, ref: str, *, repo: Any | None = None) -> dict[str, ResolvedVersion]:
    """A bare REF applied to every prompt that has it: name -> ResolvedVersion."""
    if not ref:
        raise RefError("empty ref", hint="e.g. v3, production, main or WORKTREE")
    if ref == WORKTREE:
        return {p.name: ResolvedVersion(p, ref, "worktree") for p in worktree_library(cfg).all()}
    kind, value = split_kind(ref)
    lock = _load_lock(cfg)
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
                + _list(sorted({f"{n}@{v}" for n, e in lock.prompts.items() for v in e.releases})),
            )
        return out
    if kind in ("auto", "label"):
        is_label = value in lock.label_names()
        if kind == "label" and not is_label:
            raise RefError(f"unknown label {value!r}", hint=f"labels: {_list(sorted(lock.label_names()))}")
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


# -- the store and evalsets ----------------------------------------------------------------------


def open_store(cfg: Config) -> StoreLike | None:
    """The project's store, or None when it does not exist yet (nothing is created)."""
    if not Path(cfg.store_path).exists():
        return None
    from llmctl.store import Store

    store: StoreLike = Store(Path(cfg.store_path))
    return store


def evalsets_using(cfg: Config, name: str) -> list[Any]:
    """Evalsets (work tree) whose `prompt:` names `name` without pinning a ref."""
    from llmctl.evalset import find_evalsets, load_evalset

    found = []
    for path in find_evalsets(cfg.root, cfg.evalsets_dir):
        try:
            ev = load_evalset(path, cfg.root, cfg.evalsets_dir)
        except InputError:
            continue  # `llmctl lint` reports broken evalsets; they cannot gate anything
        if any(p.name == name and p.ref is None for p in ev.prompts):
            found.append(ev)
    return found


def _role(run: dict[str, Any]) -> str:
    """Which side of an eval a run was: "candidate" (gated) or "baseline" (compared against)."""
    config = run.get("config") or {}
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            config = {}
    role = config.get("role") if isinstance(config, dict) else None
    return str(role or "candidate")


def run_summary(run: dict[str, Any]) -> dict[str, Any]:
    summary = run.get("summary") or {}
    if isinstance(summary, str):
        try:
            summary = json.loads(summary)
        except ValueError:
            summary = {}
    return summary if isinstance(summary, dict) else {}


def version_metrics(run: dict[str, Any], prompt: str, version_hash: str | None = None) -> dict[str, Any]:
    """Pass rate, mean cost and p95 latency of one prompt (version) in a run's summary."""
    groups = [
        g
        for g in run_summary(run).get("groups") or []
        if g.get("prompt") == prompt and (version_hash is None or g.get("version_hash") in (None, version_hash))
    ]
    n = sum(int(g.get("n") or 0) for g in groups)
    if not groups or n == 0:
        return {"run": run.get("id"), "evalset": run.get("evalset"), "n": 0}

    def wmean(key: str) -> float | None:
        vals = [(float(g[key]), int(g.get("n") or 0)) for g in groups if g.get(key) is not None]
        total = sum(w for _, w in vals)
        return sum(v * w for v, w in vals) / total if total else None

    p95 = [float(g["latency_p95"]) for g in groups if g.get("latency_p95") is not None]
    return {
        "run": run.get("id"),
        "evalset": run.get("evalset"),
        "n": n,
        "models": sorted({str(g.get("model")) for g in groups}),
        "pass_rate": wmean("pass_rate"),
        "cost_usd_mean": wmean("cost_usd_mean"),
        "latency_p95": max(p95) if p95 else None,
        "gate_passed": run_summary(run).get("gate_passed"),
    }


def outcomes_for(store: StoreLike, run_id: str, prompt: str, version_hash: str | None = None) -> list[CaseOutcome]:
    return [
        o
        for o in store.outcomes(run_id)
        if o.prompt == prompt and (version_hash is None or not o.version_hash or o.version_hash == version_hash)
    ]


# -- promotion -----------------------------------------------------------------------------------


@dataclass
class GateCheck:
    """The gate as promotion sees it: each evalset's latest run and the comparison with the label holder."""

    passed: bool = True
    no_eval: bool = False
    evals: list[lf.EvalRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def check_gate(
    cfg: Config,
    name: str,
    version_hash: str,
    store: StoreLike | None,
    *,
    baseline_hash: str | None = None,
    baseline_label: str = "",
) -> GateCheck:
    """Did the latest run of this content pass on every evalset using it, and no regression vs the baseline?"""
    check = GateCheck()
    evalsets = evalsets_using(cfg, name)
    runs: list[tuple[Any, dict[str, Any]]] = []
    if store is not None:
        if evalsets:
            for ev in evalsets:
                run = store.latest_run_for(name, version_hash, ev.name, candidate_only=True)
                if run is None:
                    check.missing.append(ev.name)
                else:
                    runs.append((ev, run))
        else:
            seen: set[str] = set()
            for run in store.runs_for_version(name, version_hash):
                key = str(run.get("evalset"))
                if run.get("status") == "completed" and key not in seen and _role(run) != "baseline":
                    seen.add(key)
                    runs.append((None, run))
    else:
        check.missing = [ev.name for ev in evalsets]
    if not runs:
        check.no_eval = True
        check.passed = False
        where = ", ".join(check.missing) if check.missing else "any evalset"
        check.problems.append(f"no completed eval of {name} ({version_hash[:19]}) on {where}")
        return check
    if check.missing:
        check.no_eval = True
        check.passed = False
        check.problems.append(f"no completed eval on {', '.join(check.missing)}")
    from llmctl import gate as gate_mod

    for ev, run in runs:
        summary = run_summary(run)
        gate_passed = summary.get("gate_passed")
        evalset = str(run.get("evalset") or (ev.name if ev is not None else ""))
        check.evals.append(lf.EvalRecord(evalset=evalset, run=str(run["id"]), gate_passed=gate_passed))
        check.metrics.append(version_metrics(run, name, version_hash))
        if gate_passed is not True:
            check.passed = False
            what = "failed its gate" if gate_passed is False else "has no gate verdict"
            check.problems.append(f"the latest run on {evalset} ({run['id']}) {what}")
        if store is None or not baseline_hash or baseline_hash == version_hash:
            continue
        base_run = store.latest_run_for(name, baseline_hash, evalset)
        if base_run is None:
            check.notes.append(f"no run of the {baseline_label or 'baseline'} version on {evalset}: not compared")
            continue
        gate_cfg = cfg.gate.merged(getattr(ev, "gate", None))
        verdict = gate_mod.compare(
            outcomes_for(store, str(base_run["id"]), name, baseline_hash),
            outcomes_for(store, str(run["id"]), name, version_hash),
            gate_cfg,
        )
        check.comparisons.append(
            {"evalset": evalset, "baseline_run": base_run["id"], "candidate_run": run["id"], "verdict": verdict}
        )
        if not verdict.passed:
            check.passed = False
            check.problems.append(
                f"regression against {baseline_label or 'the baseline'} on {evalset}: {verdict.summary_line()}"
            )
    return check


@dataclass
class PromoteResult:
    name: str
    label: str
    version: str
    hash: str
    commit: str  # the commit holding the released content
    new_release: bool
    previous: str | None  # the version that held the label before
    rollback: bool
    forced: bool
    changed: bool  # False when the label already pointed there
    gate: GateCheck
    lock_commit: str | None = None
    tag: str | None = None
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.name,
            "label": self.label,
            "version": self.version,
            "hash": self.hash,
            "commit": self.commit,
            "new_release": self.new_release,
            "previous": self.previous,
            "rollback": self.rollback,
            "forced": self.forced,
            "changed": self.changed,
            "lock_commit": self.lock_commit,
            "tag": self.tag,
            "evals": [e.to_dict() for e in self.gate.evals],
            "problems": list(self.gate.problems),
            "notes": list(self.gate.notes) + list(self.messages),
        }


_IDENT_RE = re.compile(r"^(.*?) <([^>]*)>")


def git_author(repo: Any) -> str | None:
    """`Name <email>` as git would record it (env and config), or None when unset."""
    import git

    try:
        ident = repo.git.var("GIT_AUTHOR_IDENT")
    except git.GitCommandError:
        return None
    match = _IDENT_RE.match(ident)
    return f"{match.group(1)} <{match.group(2)}>" if match else None


def _rel_to_repo(repo: Any, path: Path) -> str:
    return path.resolve().relative_to(Path(repo.working_tree_dir).resolve()).as_posix()


def dirty_paths(repo: Any, cfg: Config) -> list[str]:
    """Uncommitted changes (staged, unstaged, untracked) under the prompts folder."""
    folder = _rel_to_repo(repo, cfg.prompts_path) if cfg.prompts_path.exists() else cfg.prompts_dir
    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all", "--", folder)
    paths = []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":
            i += 1  # the rename's source path
    return paths


def _tag_message(name: str, version: str, prompt: Prompt, check: GateCheck, forced: bool, message: str | None) -> str:
    from llmctl import fmt

    lines = [f"llmctl: {name} {version}", "", f"content: {prompt.hash}"]
    if message:
        lines += ["", message]
    for record, metrics in zip(check.evals, check.metrics, strict=False):
        verdict = {True: "passed", False: "FAILED", None: "no verdict"}[record.gate_passed]
        parts = [f"eval {record.evalset}: run {record.run}, gate {verdict}"]
        if metrics.get("pass_rate") is not None:
            parts.append(f"pass rate {fmt.pct(metrics['pass_rate'])}")
        if metrics.get("cost_usd_mean") is not None:
            parts.append(f"cost/case {fmt.usd_per_case(metrics['cost_usd_mean'])}")
        if metrics.get("latency_p95") is not None:
            parts.append(f"p95 {fmt.ms(metrics['latency_p95'])}")
        lines.append(", ".join(parts))
    for comp in check.comparisons:
        lines.append(f"vs {comp['baseline_run']} on {comp['evalset']}: {comp['verdict'].summary_line()}")
    if not check.evals:
        lines.append("no eval")
    if forced:
        lines.append("FORCED past the gate: " + "; ".join(check.problems))
    return "\n".join(lines) + "\n"


def promote(
    cfg: Config,
    name: str,
    label: str,
    ref: str | None = None,
    *,
    force: bool = False,
    commit: bool = True,
    message: str | None = None,
    store: StoreLike | None = None,
    use_store: bool = True,
    lock_timeout: float = 60.0,
) -> PromoteResult:
    """Release `name@ref` (default WORKTREE) if new, move `label` to it, write and commit the lockfile.

    Every check runs before anything is written; a refusal leaves the lockfile,
    the index and the history untouched. `force` passes a failed or missing
    gate (recorded in the lockfile). With `commit=False` the lockfile is written
    but neither committed nor tagged.

    One promote at a time per repository (another one waits up to `lock_timeout`
    seconds); a promotion that was killed half-way is finished or rolled back
    first (see `llmctl.promote_tx`).
    """
    repo = open_repo(cfg.root)
    with promote_tx.promotion_lock(repo, timeout=lock_timeout):
        recovered = promote_tx.recover(repo, lf.lockfile_path(cfg.root, cfg.prompts_dir))
        result = _promote(
            cfg, name, label, ref, force=force, commit=commit, message=message, store=store, use_store=use_store
        )
    result.messages[:0] = recovered
    return result


def _promote(
    cfg: Config,
    name: str,
    label: str,
    ref: str | None,
    *,
    force: bool,
    commit: bool,
    message: str | None,
    store: StoreLike | None,
    use_store: bool,
) -> PromoteResult:
    import git

    lf.check_label_name(label)
    ref = ref or WORKTREE
    repo = open_repo(cfg.root)
    lock = _load_lock(cfg)
    lock_rel = _rel_to_repo(repo, lock.path)
    dirty = [p for p in dirty_paths(repo, cfg) if not (not commit and p == lock_rel)]
    if dirty:
        raise InputError(
            f"uncommitted changes in {cfg.prompts_dir}/: {_list(dirty)}",
            hint="commit them first (a release must be a committed version), or stash them"
            + ("" if not commit or lock_rel not in dirty else "; or use --no-commit"),
        )
    try:
        head = repo.head.commit
    except ValueError:
        raise RefError("the repository has no commits yet", hint="commit your prompts first") from None
    resolved = resolve_version(cfg, name, ref, repo=repo, lock=lock)
    prompt = resolved.prompt
    name = prompt.name
    content_commit = resolved.commit
    if content_commit is None:  # WORKTREE: clean, so its content is HEAD's
        at_head = library_at(cfg, repo, head).get(name)
        if at_head.hash != prompt.hash:
            raise InputError(
                f"{name} in the work tree differs from HEAD ({prompt.short_hash} vs {at_head.short_hash})",
                hint="an included file may be git-ignored; commit every file the prompt uses",
            )
        content_commit = head.hexsha
    entry = lock.entry(name)
    existing = entry.release_for_hash(prompt.hash) if entry else None
    version = existing.version if existing else (entry.next_version() if entry else "v1")
    current = entry.labels.get(label) if entry else None
    previous = current.version if current else None
    rollback = previous is not None and lf.version_number(version) < lf.version_number(previous)
    if previous == version:
        return PromoteResult(
            name,
            label,
            version,
            prompt.hash,
            content_commit,
            False,
            previous,
            False,
            False,
            False,
            GateCheck(),
            messages=[f"{label} already points at {name} {version}; nothing to do"],
        )
    if store is None and use_store:
        store = open_store(cfg)
    baseline_hash = entry.releases[previous].hash if entry and previous else None
    check = check_gate(
        cfg,
        name,
        prompt.hash,
        store,
        baseline_hash=None if rollback else baseline_hash,
        baseline_label=f"{label} ({name} {previous})" if previous else "",
    )
    if (
        check.no_eval
        and not check.evals
        and existing is not None
        and not existing.forced
        and existing.evals
        and all(e.gate_passed is True for e in existing.evals)
    ):  # e.g. a rollback in a fresh clone: the release's recorded verdict stands
        check = GateCheck(
            evals=list(existing.evals), notes=[f"no runs in the store; {version} passed its gate when released"]
        )
    if rollback:
        check.notes.append(f"rollback: {label} moves back from {previous} to {version}")
    forced = False
    if not check.passed:
        reasons = "; ".join(check.problems)
        if not force:
            at = "" if ref == WORKTREE else f" --at {ref}"
            hint = f"evaluate it first (`llmctl eval{at}`), or pass --force (recorded in the lockfile)"
            if check.no_eval and not any("gate" in p or "regression" in p for p in check.problems):
                raise InputError(f"cannot promote {name}@{ref}: {reasons}", hint=hint)
            if all("no gate verdict" in p or p.startswith("no completed eval") for p in check.problems):
                raise GateFailed(f"cannot promote {name}@{ref}: {reasons}", hint=hint)
            raise GateFailed(f"cannot promote {name}@{ref}: {reasons}", hint="fix the regression, or pass --force")
        forced = True
    tag = f"{name}/{version}" if existing is None and commit else None
    if tag is not None:
        try:
            repo.git.check_ref_format(f"refs/tags/{tag}")
        except git.GitCommandError:
            raise InputError(f"cannot make git tag {tag!r} (not a valid ref name)") from None
        if tag in [t.name for t in repo.tags]:
            raise InputError(
                f"git tag {tag} already exists but {name} {version} is not in the lockfile",
                hint=f"delete the stale tag (`git tag -d {tag}`) or restore the lockfile",
            )
    author = git_author(repo)
    if author is None and commit:
        raise InputError("git has no author identity", hint="set git config user.name and user.email")
    author = author or ""
    now = lf.now_iso()
    entry = lock.ensure_entry(name)
    if existing is None:
        entry.releases[version] = lf.Release(
            version=version,
            hash=prompt.hash,
            commit=content_commit,
            date=now,
            author=author,
            forced=forced,
            evals=list(check.evals),
            message=message,
        )
    move = lf.LabelMove(version=version, date=now, author=author, commit=head.hexsha, forced=forced)
    if current is None:
        entry.labels[label] = lf.Label(name=label, version=version, history=[move])
    else:
        current.version = version
        current.history.append(move)
    result = PromoteResult(
        name, label, version, prompt.hash, content_commit, existing is None, previous, rollback, forced, True, check
    )
    old_bytes = lock.path.read_bytes() if lock.path.exists() else None
    subject = f"llmctl: promote {name} {version} to {label}"
    tag_message = _tag_message(name, version, prompt, check, forced, message) if tag is not None else None
    if commit:  # from here to the tag, a kill is finished or undone by the next promote
        promote_tx.begin(
            repo,
            prompt=name,
            label=label,
            version=version,
            lock_path=lock.path,
            lock_rel=lock_rel,
            new_text=lf.dumps(lock),
            subject=subject,
            tag=tag,
            tag_target=content_commit,
            tag_message=tag_message,
        )
    lf.save(lock)
    if not commit:
        result.messages.append(f"wrote {lock_rel} (not committed)")
        return result
    body = subject + ("\n\n" + message if message else "") + ("\n\nforced past the gate" if forced else "")
    try:
        repo.git.add("--", lock_rel)
        repo.git.commit("-q", "-m", body, "--only", "--", lock_rel)
    except git.GitCommandError as exc:
        if old_bytes is None:
            lock.path.unlink(missing_ok=True)
        else:
            lock.path.write_bytes(old_bytes)
        try:
            repo.git.reset("-q", "--", lock_rel)
        except git.GitCommandError:
            pass
        promote_tx.done(repo)
        raise InputError(f"git commit of {lock_rel} failed: {exc.stderr.strip() or exc}") from None
    result.lock_commit = repo.head.commit.hexsha
    if tag is not None:
        try:
            repo.git.tag("-a", tag, content_commit, "-m", tag_message)
        except git.GitCommandError as exc:  # the journal stays: the next promote makes the tag
            raise InputError(
                f"committed {result.lock_commit[:12]} but could not make tag {tag}: {exc.stderr.strip() or exc}",
                hint="fix the cause; the next `llmctl promote` makes the missing tag",
            ) from None
        result.tag = tag
    promote_tx.done(repo)
    return result


# -- application loading and bundles -------------------------------------------------------------


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
        raise RefError(f"unknown prompt {name!r} in {display}", hint=f"bundled: {_list(sorted(data['prompts']))}")
    releases = entry.get("releases") or {}
    labels = entry.get("labels") or {}
    if label is not None:
        if label not in labels:
            raise RefError(
                f"prompt {name!r} has no label {label!r} in {display}", hint=f"labels: {_list(sorted(labels))}"
            )
        version = labels[label]
    if version is None:
        if not releases:
            raise RefError(f"prompt {name!r} has no releases in {display}")
        version = max(releases, key=lf.version_number)
    release = releases.get(version)
    if not isinstance(release, dict):
        raise RefError(f"prompt {name!r} has no release {version} in {display}", hint=f"releases: {_list(releases)}")
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


def load_released_prompt(
    name: str,
    label: str | None = None,
    version: str | None = None,
    root: str | Path | None = None,
    bundle: str | Path | None = None,
) -> Prompt:
    """A released prompt by label or version, from the lockfile + git, or from a bundle (no git needed)."""
    if label is not None and version is not None:
        raise InputError("give a label or a version, not both")
    if version is not None and not lf.is_version(version):
        raise RefError(f"invalid version {version!r}", hint="versions are v1, v2, ...")
    if bundle is not None:
        return prompt_from_bundle(read_bundle(bundle), name, label=label, version=version, display=str(bundle))
    from llmctl.config import load_config

    cfg = load_config(Path(root) if root else None)
    if label is not None:
        return resolve_version(cfg, name, f"label:{label}").prompt
    if version is not None:
        return resolve_version(cfg, name, version).prompt
    return worktree_library(cfg).get(name)


def build_bundle(cfg: Config, labels: list[str] | None = None) -> dict[str, Any]:
    """Every release (or only those some `labels` point at) with its files, hash and labels."""
    lock = _load_lock(cfg)
    if not lock.prompts:
        raise InputError(
            f"nothing to bundle: {cfg.prompts_dir}/{lf.LOCKFILE_NAME} has no releases",
            hint="release a prompt with `llmctl promote NAME --to LABEL`",
        )
    if labels:
        unknown = [label for label in labels if label not in lock.label_names()]
        if unknown:
            raise RefError(f"unknown label {unknown[0]!r}", hint=f"labels: {_list(sorted(lock.label_names()))}")
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


# -- log -----------------------------------------------------------------------------------------


def prompt_log(cfg: Config, name: str, store: StoreLike | None = None, *, use_store: bool = True) -> dict[str, Any]:
    """Releases and label moves over time, with each version's latest results where the store has them."""
    lock = _load_lock(cfg)
    entry = lock.entry(name)
    worktree: dict[str, Any] | None = None
    try:
        wt = worktree_library(cfg).get(name)
        worktree = {"hash": wt.hash, "released_as": None}
    except InputError:
        if entry is None:
            raise
    if entry is None:
        entry = lf.PromptEntry(name=name)
    if worktree is not None:
        rel = entry.release_for_hash(worktree["hash"])
        worktree["released_as"] = rel.version if rel else None
    if store is None and use_store:
        store = open_store(cfg)

    def results(content_hash: str) -> dict[str, Any] | None:
        if store is None:
            return None
        run = store.latest_run_for(name, content_hash)
        return version_metrics(run, name, content_hash) if run else None

    releases = []
    for release in entry.ordered_releases():
        releases.append(
            {
                "version": release.version,
                "hash": release.hash,
                "commit": release.commit,
                "date": release.date,
                "author": release.author,
                "forced": release.forced,
                "labels": entry.labels_of(release.version),
                "evals": [e.to_dict() for e in release.evals],
                "results": results(release.hash),
            }
        )
    events: list[dict[str, Any]] = []
    for release in entry.ordered_releases():
        events.append(
            {
                "date": release.date,
                "event": "release",
                "version": release.version,
                "label": None,
                "commit": release.commit,
                "author": release.author,
                "forced": release.forced,
                "rollback": False,
            }
        )
    for label_name in sorted(entry.labels):
        prev: str | None = None
        for move in entry.labels[label_name].history:
            rollback = (
                prev is not None and lf.is_version(prev) and lf.version_number(move.version) < lf.version_number(prev)
            )
            events.append(
                {
                    "date": move.date,
                    "event": "label",
                    "version": move.version,
                    "label": label_name,
                    "commit": move.commit,
                    "author": move.author,
                    "forced": move.forced,
                    "rollback": rollback,
                    "previous": prev,
                }
            )
            prev = move.version
    events.sort(key=lambda e: (e["date"] or "", 0 if e["event"] == "release" else 1))
    if worktree is not None and worktree["released_as"] is None:
        worktree["results"] = results(worktree["hash"])
    return {
        "prompt": name,
        "labels": {lab: entry.labels[lab].version for lab in sorted(entry.labels)},
        "releases": releases,
        "events": events,
        "worktree": worktree,
        "store": store is not None,
    }


__all__ = [
    "WORKTREE",
    "GateCheck",
    "MemorySource",
    "PromoteResult",
    "ResolvedVersion",
    "Source",
    "build_bundle",
    "check_gate",
    "load_release",
    "load_released_prompt",
    "promote",
    "prompt_from_bundle",
    "prompt_log",
    "read_bundle",
    "resolve_all",
    "resolve_all_versions",
    "resolve_prompt_version",
    "resolve_version",
    "write_bundle",
]
