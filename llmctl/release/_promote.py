"""`llmctl promote`: release a version if it is new, move a label to it, commit and tag.

Every check runs before anything is written. The gate as promotion sees it
(`check_gate`) is each evalset's latest run of the content, and the comparison
with the version the label held; a rollback to a version that passed its gate
when it was released needs no `--force`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl import fmt
from llmctl.config import Config
from llmctl.errors import GateFailed, InputError, RefError
from llmctl.prompt import Prompt
from llmctl.release import _transaction as tx
from llmctl.release import lockfile as lf
from llmctl.release._metrics import (
    StoreLike,
    evalsets_using,
    open_store,
    outcomes_for,
    role_of,
    version_metrics,
)
from llmctl.release._refs import library_at, load_lock, resolve_version, short_list
from llmctl.sources import WORKTREE, open_repo

if TYPE_CHECKING:
    from llmctl.store import RunRecord


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
    runs: list[tuple[Any, RunRecord]] = []
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
                key = str(run.evalset)
                if run.status == "completed" and key not in seen and role_of(run) != "baseline":
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
        gate_passed = run.gate_passed
        evalset = str(run.evalset or (ev.name if ev is not None else ""))
        check.evals.append(lf.EvalRecord(evalset=evalset, run=str(run.id), gate_passed=gate_passed))
        check.metrics.append(version_metrics(run, name, version_hash))
        if gate_passed is not True:
            check.passed = False
            what = "failed its gate" if gate_passed is False else "has no gate verdict"
            check.problems.append(f"the latest run on {evalset} ({run.id}) {what}")
        if store is None or not baseline_hash or baseline_hash == version_hash:
            continue
        base_run = store.latest_run_for(name, baseline_hash, evalset)
        if base_run is None:
            check.notes.append(f"no run of the {baseline_label or 'baseline'} version on {evalset}: not compared")
            continue
        gate_cfg = cfg.gate.merged(getattr(ev, "gate", None))
        verdict = gate_mod.compare(
            outcomes_for(store, str(base_run.id), name, baseline_hash),
            outcomes_for(store, str(run.id), name, version_hash),
            gate_cfg,
        )
        check.comparisons.append(
            {"evalset": evalset, "baseline_run": base_run.id, "candidate_run": run.id, "verdict": verdict}
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
    first (see `llmctl.release._transaction`).
    """
    repo = open_repo(cfg.root)
    with tx.promotion_lock(repo, timeout=lock_timeout):
        recovered = tx.recover(repo, lf.lockfile_path(cfg.root, cfg.prompts_dir))
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
    lock = load_lock(cfg)
    lock_rel = _rel_to_repo(repo, lock.path)
    dirty = [p for p in dirty_paths(repo, cfg) if not (not commit and p == lock_rel)]
    if dirty:
        raise InputError(
            f"uncommitted changes in {cfg.prompts_dir}/: {short_list(dirty)}",
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
        tx.begin(
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
        tx.done(repo)
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
    tx.done(repo)
    return result
