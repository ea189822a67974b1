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
    prompt = _load(name, label=label, version=version, root=root, bundle=bundle)
    stamp_span(prompt, version=version or _released_version(prompt, label, root, bundle))
    return prompt


def _load(
    name: str,
    *,
    label: str | None,
    version: str | None,
    root: str | Path | None,
    bundle: str | Path | None,
) -> Prompt:
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


def _released_version(prompt: Prompt, label: str | None, root: str | Path | None, bundle: str | Path | None) -> str:
    """`vN` of a label's release (from the lockfile), else the content hash."""
    if label is None or bundle is not None:
        return prompt.hash
    try:
        cfg = load_config(Path(root) if root else None)
        entry = lf.load_for(cfg.root, cfg.prompts_dir).prompts.get(prompt.name)
    except InputError:
        return prompt.hash
    found = entry.labels.get(label) if entry is not None else None
    return found.version if found is not None else prompt.hash


def stamp_span(prompt: Prompt, *, version: str | None = None, variables: dict[str, Any] | None = None) -> bool:
    """Name the prompt on the current OpenTelemetry span (when opentelemetry-api is installed and a
    span is recording): `llmctl.prompt`, `llmctl.prompt.version` (vN, else the content hash),
    `llmctl.prompt.hash`, and with `variables` `llmctl.prompt.vars` (JSON), which
    `llmctl traces import` reads back. Returns whether a span was stamped."""
    try:
        from opentelemetry import trace
    except ImportError:
        return False
    span = trace.get_current_span()
    if not span.is_recording():
        return False
    span.set_attribute("llmctl.prompt", prompt.name)
    span.set_attribute("llmctl.prompt.version", version or prompt.hash)
    span.set_attribute("llmctl.prompt.hash", prompt.hash)
    if variables is not None:
        import json

        span.set_attribute("llmctl.prompt.vars", json.dumps(variables, ensure_ascii=False, default=str))
    return True


def render(name: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Render a prompt of the work tree by name: `render("summarize", ticket="...")`; stamps the
    current OpenTelemetry span with the prompt and its variables (see `stamp_span`)."""
    prompt = load_prompt(name)
    values = {**(variables or {}), **kwargs}
    stamp_span(prompt, variables=values)
    return prompt.render(variables, **kwargs)


__all__ = ["load_prompt", "render", "stamp_span"]
