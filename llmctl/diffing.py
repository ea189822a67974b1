"""`llmctl diff A B`: the template diff and the results diff between two versions or runs.

A side is a REF (`v3`, `production`, `main`, `HEAD~2`, `WORKTREE`, optionally
`PROMPT@REF`) or a run id (the prompt versions that run evaluated). For each
prompt on both sides this builds a unified diff of its canonical YAML (plus
included files) and, where the store holds completed runs of both versions on
the same evalset, the gate's comparison (A is the baseline, B the candidate).

Nothing here imports litellm; the runner is imported only for `--run`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from llmctl.config import Config
from llmctl.errors import InputError, RefError
from llmctl.prompt import Prompt
from llmctl.release import (
    StoreLike,
    evalsets_using,
    git_commit,
    library_at,
    load_release,
    outcomes_for,
    resolve_all_versions,
    resolve_version,
    worktree_library,
)
from llmctl.release import lockfile as lf
from llmctl.sources import open_repo, split_ref

if TYPE_CHECKING:
    from llmctl.store import RunRecord

_TOP_ORDER = ["name", "description", "model", "params", "inputs", "messages", "template", "output"]
_RUN_ID_RE = re.compile(r"^r\d{8}-\d{6}-[0-9a-f]+$")


@dataclass
class Version:
    """One prompt version on one side: what it is and (when found) its content."""

    name: str
    hash: str
    label: str  # how it is shown: "summarize@v3"
    data: dict[str, Any] | None = None
    includes: dict[str, str] = field(default_factory=dict)
    commit: str | None = None
    version: str | None = None
    note: str = ""

    @classmethod
    def of(cls, prompt: Prompt, label: str, commit: str | None = None, version: str | None = None) -> Version:
        return cls(prompt.name, prompt.hash, label, prompt.data, dict(prompt.includes), commit, version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "hash": self.hash,
            "version": self.version,
            "commit": self.commit,
            "content_found": self.data is not None,
            "note": self.note,
        }


@dataclass
class Side:
    spec: str
    kind: str  # "ref" | "run"
    ref: str | None = None  # the REF part (for --run)
    versions: dict[str, Version] = field(default_factory=dict)
    run: RunRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "run": self.run.id if self.run is not None else None}


@dataclass
class ResultDiff:
    evalset: str
    a_run: str
    b_run: str
    verdict: Any  # llmctl.gate.Verdict

    def to_dict(self) -> dict[str, Any]:
        return {"evalset": self.evalset, "a_run": self.a_run, "b_run": self.b_run, "verdict": self.verdict.to_dict()}


@dataclass
class PromptDiff:
    name: str
    a: Version
    b: Version
    diff: list[str]
    results: list[ResultDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.a.hash != self.b.hash

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.name,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "changed": self.changed,
            "diff": "".join(self.diff),
            "results": [r.to_dict() for r in self.results],
            "notes": list(self.notes),
        }


@dataclass
class DiffReport:
    a: Side
    b: Side
    prompts: list[PromptDiff]
    only_in_a: list[str]
    only_in_b: list[str]
    has_store: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "prompts": [p.to_dict() for p in self.prompts],
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
            "store": self.has_store,
        }


# -- canonical text ------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def _ordered(value: Any, top: bool = False) -> Any:
    if isinstance(value, dict):
        if top:
            keys = [k for k in _TOP_ORDER if k in value] + sorted(k for k in value if k not in _TOP_ORDER)
        elif set(value) >= {"role", "content"}:
            keys = ["role", "content", *sorted(k for k in value if k not in ("role", "content"))]
        else:
            keys = sorted(value)
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def canonical_text(data: dict[str, Any] | None, includes: dict[str, str]) -> list[str]:
    """The prompt as canonical YAML (fixed key order, block strings) followed by its included files."""
    if data is None:
        return ["# (content of this version not found)\n"]
    text = yaml.dump(_ordered(data, top=True), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    lines = text.splitlines(keepends=True)
    for path in sorted(includes):
        lines.append(f"# --- included: {path}\n")
        body = includes[path]
        lines.extend(body.splitlines(keepends=True) if body else [])
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    return lines


def template_diff(a: Version, b: Version, context: int = 3) -> list[str]:
    return list(
        difflib.unified_diff(
            canonical_text(a.data, a.includes),
            canonical_text(b.data, b.includes),
            fromfile=f"{a.label} ({a.hash[:19]})",
            tofile=f"{b.label} ({b.hash[:19]})",
            n=context,
        )
    )


# -- sides ---------------------------------------------------------------------------------------


def _version_label(name: str, spec_ref: str) -> str:
    return f"{name}@{spec_ref}"


def resolve_side(cfg: Config, spec: str, store: StoreLike | None) -> Side:
    """A REF (or PROMPT@REF), else a run id in the store."""
    if not spec:
        raise InputError("empty version reference")
    looks_like_run = bool(_RUN_ID_RE.match(spec)) or spec in ("latest", "last")
    if looks_like_run and store is not None:
        return _run_side(cfg, spec, store)
    try:
        return _ref_side(cfg, spec)
    except RefError as exc:
        if store is None or "ambiguous" in exc.message or "@" in spec:
            if store is None and "unknown ref" in exc.message:
                exc.hint = (exc.hint or "") + "; or a run id (no store yet)"
            raise
        try:
            return _run_side(cfg, spec, store)
        except InputError:
            exc.hint = (exc.hint or "") + "; or a run id"
            raise exc from None


def _ref_side(cfg: Config, spec: str) -> Side:
    name, ref = split_ref(spec)
    if ref is not None:
        rv = resolve_version(cfg, name, ref)
        side = Side(spec, "ref", ref)
        side.versions[rv.prompt.name] = Version.of(rv.prompt, spec, rv.commit, rv.version)
        return side
    side = Side(spec, "ref", spec)
    for pname, rv in resolve_all_versions(cfg, spec).items():
        side.versions[pname] = Version.of(rv.prompt, _version_label(pname, spec), rv.commit, rv.version)
    return side


def _run_side(cfg: Config, spec: str, store: StoreLike) -> Side:
    run = store.get_run(spec)
    side = Side(spec, "run", None, run=run)
    hashes: dict[str, str] = {}
    for outcome in store.outcomes(str(run.id)):
        if outcome.version_hash:
            hashes.setdefault(outcome.prompt, outcome.version_hash)
    for name, content_hash in sorted(hashes.items()):
        side.versions[name] = _find_content(cfg, name, content_hash, run, store)
    return side


def _find_content(cfg: Config, name: str, content_hash: str, run: RunRecord, store: StoreLike) -> Version:
    """The content of `name` with this hash: a release, the run's commit, the work tree, or the store."""
    label = f"{name}@run:{run.id}"
    try:
        lock = lf.load_for(cfg.root, cfg.prompts_dir)
        entry = lock.entry(name)
        release = entry.release_for_hash(content_hash) if entry else None
        if release is not None:
            return Version.of(load_release(cfg, name, release), label, release.commit, release.version)
        commit_ref = run.git_commit
        if commit_ref:
            repo = open_repo(cfg.root)
            commit = git_commit(repo, str(commit_ref))
            if commit is not None:
                prompt = library_at(cfg, repo, commit).get(name)
                if prompt.hash == content_hash:
                    return Version.of(prompt, label, commit.hexsha)
    except InputError:
        pass
    try:
        prompt = worktree_library(cfg).get(name)
        if prompt.hash == content_hash:
            return Version.of(prompt, label)
    except InputError:
        pass
    getter = getattr(store, "get_prompt_version", None)
    stored = getter(content_hash) if getter is not None else None
    if stored and isinstance(stored.get("content"), dict):
        content = stored["content"]
        data = content.get("content") if isinstance(content.get("content"), dict) else None
        includes = {p: "(included file: text not stored)\n" for p in content.get("includes") or []}
        return Version(name, content_hash, label, data, includes, note="from the store (included files not stored)")
    return Version(name, content_hash, label, note="content not found in git, the lockfile or the store")


# -- results -------------------------------------------------------------------------------------


def _latest_completed_by_evalset(runs: list[RunRecord]) -> dict[str, RunRecord]:
    out: dict[str, RunRecord] = {}
    for run in runs:  # newest first
        if run.status == "completed":
            out.setdefault(str(run.evalset), run)
    return out


def _runs_of(side: Side, name: str, content_hash: str, store: StoreLike) -> dict[str, RunRecord]:
    if side.run is not None:
        return {str(side.run.evalset): side.run}
    return _latest_completed_by_evalset(store.runs_for_version(name, content_hash))


def _evalset_gate(cfg: Config, evalset: str) -> dict[str, Any] | None:
    from llmctl.evalset import find_evalsets, load_evalset

    try:
        for path in find_evalsets(cfg.root, cfg.evalsets_dir, [evalset]):
            return load_evalset(path, cfg.root, cfg.evalsets_dir).gate
    except InputError:
        return None
    return None


def results_diff(cfg: Config, pd: PromptDiff, a: Side, b: Side, store: StoreLike) -> None:
    from llmctl import gate as gate_mod

    runs_a = _runs_of(a, pd.name, pd.a.hash, store)
    runs_b = _runs_of(b, pd.name, pd.b.hash, store)
    common = sorted(set(runs_a) & set(runs_b))
    for evalset in common:
        ra, rb = runs_a[evalset], runs_b[evalset]
        verdict = gate_mod.compare(
            outcomes_for(store, str(ra.id), pd.name, pd.a.hash),
            outcomes_for(store, str(rb.id), pd.name, pd.b.hash),
            cfg.gate.merged(_evalset_gate(cfg, evalset)),
        )
        pd.results.append(ResultDiff(evalset, str(ra.id), str(rb.id), verdict))
    if not common:
        where = []
        if not runs_a:
            where.append(f"{pd.a.label} has no completed run")
        if not runs_b:
            where.append(f"{pd.b.label} has no completed run")
        if runs_a and runs_b:
            where.append("their runs are on different evalsets")
        pd.notes.append("no results to compare: " + "; ".join(where))


def missing_runs(cfg: Config, side: Side, names: list[str], store: StoreLike | None) -> dict[str, str | None]:
    """Evalsets (using these prompts) where this side's versions have no completed run.

    Each maps to the git commit to evaluate at (the version's commit; None for the work tree),
    so the runner sees plain git refs even for `v3` or `production`.
    """
    if side.kind == "run":
        return {}
    needed: dict[str, str | None] = {}
    for name in names:
        version = side.versions[name]
        have = _runs_of(side, name, version.hash, store) if store is not None else {}
        for ev in evalsets_using(cfg, name):
            if ev.name not in have:
                needed.setdefault(ev.name, version.commit)
    return needed


def diff(
    cfg: Config,
    a_spec: str,
    b_spec: str,
    *,
    store: StoreLike | None = None,
    run_missing: bool = False,
    context: int = 3,
) -> DiffReport:
    """Compare two versions (or runs) of every prompt present on both sides."""
    a = resolve_side(cfg, a_spec, store)
    b = resolve_side(cfg, b_spec, store)
    common = sorted(set(a.versions) & set(b.versions))
    only_a = sorted(set(a.versions) - set(b.versions))
    only_b = sorted(set(b.versions) - set(a.versions))
    if not common:
        raise RefError(
            f"no prompt is present in both {a_spec} and {b_spec}",
            hint=f"{a_spec}: {', '.join(sorted(a.versions)) or '(none)'}; "
            f"{b_spec}: {', '.join(sorted(b.versions)) or '(none)'}",
        )
    if run_missing:
        store = _run_missing(cfg, a, b, common, store)
    prompts = []
    for name in common:
        va, vb = a.versions[name], b.versions[name]
        pd = PromptDiff(name, va, vb, template_diff(va, vb, context))
        for v in (va, vb):
            if v.note:
                pd.notes.append(f"{v.label}: {v.note}")
        if store is not None:
            results_diff(cfg, pd, a, b, store)
        else:
            pd.notes.append("no results to compare: the store does not exist yet")
        prompts.append(pd)
    return DiffReport(a, b, prompts, only_a, only_b, store is not None)


def _run_missing(cfg: Config, a: Side, b: Side, names: list[str], store: StoreLike | None) -> StoreLike | None:
    from llmctl.run import EvalOptions, run_eval  # imports litellm: only with --run

    for side in (a, b):
        for evalset, commit in sorted(missing_runs(cfg, side, names, store).items()):
            run_eval(cfg, EvalOptions(evalsets=[evalset], prompt_ref=commit))
    if store is None and cfg.store_exists():
        from llmctl.release import open_store

        store = open_store(cfg)
    return store
