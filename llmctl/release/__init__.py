"""Prompt releases: `[PROMPT@]REF` resolution, promotion, the lockfile, bundles and the log.

    from llmctl.release import resolve_version, promote
    rv = resolve_version(cfg, "summarize", "production")   # WORKTREE, vN, a label or a git ref
    result = promote(cfg, "summarize", "production")       # release the work tree's version

- `lockfile`: `prompts/llmctl.lock`, the tracked record of releases and labels;
- `_refs`: the one ref resolver (used by the runner, `diff`, `render`, `promote`, `load_prompt`);
- `_metrics`: what the store says about a version (summary, metrics, outcomes);
- `_promote`: `llmctl promote` with its gate check, `_transaction` its crash-safe journal;
- `_bundle`: released prompts for applications, from git or a bundle file;
- `_log`: `llmctl log`.

Nothing here imports litellm; gitpython is imported only when git is read.
"""

from llmctl.release import lockfile
from llmctl.release._bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    MemorySource,
    build_bundle,
    prompt_from_bundle,
    read_bundle,
    write_bundle,
)
from llmctl.release._log import prompt_log
from llmctl.release._metrics import StoreLike, evalsets_using, open_store, outcomes_for, run_summary, version_metrics
from llmctl.release._promote import GateCheck, PromoteResult, check_gate, dirty_paths, git_author, promote
from llmctl.release._refs import (
    ResolvedVersion,
    git_commit,
    library_at,
    load_prompt_ref,
    load_release,
    prompt_at,
    resolve_all,
    resolve_all_versions,
    resolve_version,
    source_at,
    split_kind,
    worktree_library,
)
from llmctl.sources import WORKTREE, split_ref

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "WORKTREE",
    "GateCheck",
    "MemorySource",
    "PromoteResult",
    "ResolvedVersion",
    "StoreLike",
    "build_bundle",
    "check_gate",
    "dirty_paths",
    "evalsets_using",
    "git_author",
    "git_commit",
    "library_at",
    "load_prompt_ref",
    "load_release",
    "lockfile",
    "open_store",
    "outcomes_for",
    "promote",
    "prompt_at",
    "prompt_from_bundle",
    "prompt_log",
    "read_bundle",
    "resolve_all",
    "resolve_all_versions",
    "resolve_version",
    "run_summary",
    "source_at",
    "split_kind",
    "split_ref",
    "version_metrics",
    "worktree_library",
    "write_bundle",
]
