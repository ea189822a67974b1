"""Turn `NAME[@REF]` into a Prompt, from the work tree or (lazily) git and the lockfile."""

from __future__ import annotations

from llmctl.config import Config
from llmctl.prompt import Prompt, PromptLibrary
from llmctl.sources import WorktreeSource


def split_ref(spec: str) -> tuple[str, str | None]:
    name, sep, ref = spec.partition("@")
    return name, (ref if sep else None)


def worktree_library(cfg: Config) -> PromptLibrary:
    return PromptLibrary(WorktreeSource(cfg.root), cfg.prompts_dir)


def load_prompt_ref(cfg: Config, spec: str) -> Prompt:
    """`summarize` (work tree), `summarize@WORKTREE`, or `summarize@REF` (git, labels, vN)."""
    name, ref = split_ref(spec)
    if ref is None or ref == "WORKTREE":
        return worktree_library(cfg).get(name)
    from llmctl.versions import resolve_prompt_version

    return resolve_prompt_version(cfg, name, ref)
