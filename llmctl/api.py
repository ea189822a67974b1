"""The application API: load a prompt by name, label or version and render it.

    from llmctl import load_prompt, render
    prompt = load_prompt("summarize", label="production")
    messages = prompt.render(ticket="...")

A thin facade over `llmctl.prompt` (parsing, rendering) and `llmctl.release`
(labels, versions, bundles), so neither has to know about the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmctl.config import load_config
from llmctl.errors import InputError, RefError
from llmctl.prompt import Prompt
from llmctl.release import lockfile as lf
from llmctl.release import prompt_from_bundle, read_bundle, resolve_version, worktree_library


def load_prompt(
    name: str,
    *,
    label: str | None = None,
    version: str | None = None,
    root: str | Path | None = None,
    bundle: str | Path | None = None,
) -> Prompt:
    """Load a prompt for use in an application.

    `load_prompt("summarize")` reads the work tree; `label="production"` or
    `version="v3"` resolve through `prompts/llmctl.lock` and git (the content
    hash is checked), or through a bundle written by `llmctl bundle`, for
    deployments without git.
    """
    if label is not None and version is not None:
        raise InputError("give a label or a version, not both")
    if version is not None and not lf.is_version(version):
        raise RefError(f"invalid version {version!r}", hint="versions are v1, v2, ...")
    if bundle is not None:
        return prompt_from_bundle(read_bundle(bundle), name, label=label, version=version, display=str(bundle))
    cfg = load_config(Path(root) if root else None)
    if label is not None:
        return resolve_version(cfg, name, f"label:{label}").prompt
    if version is not None:
        return resolve_version(cfg, name, version).prompt
    return worktree_library(cfg).get(name)


def render(name: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Render a prompt of the work tree by name: `render("summarize", ticket="...")`."""
    return load_prompt(name).render(variables, **kwargs)


__all__ = ["load_prompt", "render"]
