"""llmctl: prompt versioning and LLM evaluation in CI.

Application code loads released prompts with::

    from llmctl import load_prompt
    prompt = load_prompt("summarize", label="production")
    messages = prompt.render(ticket="...")

Names are imported lazily so that `llmctl --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "EvalOptions",
    "LlmctlError",
    "Prompt",
    "__version__",
    "load_config",
    "load_prompt",
    "render",
    "run_eval",
]

_LAZY = {
    "load_prompt": "llmctl.api",
    "render": "llmctl.api",
    "Prompt": "llmctl.prompt",
    "load_config": "llmctl.config",
    "run_eval": "llmctl.run",
    "EvalOptions": "llmctl.run",
    "LlmctlError": "llmctl.errors",
}

if TYPE_CHECKING:
    from llmctl.api import load_prompt, render
    from llmctl.config import load_config
    from llmctl.errors import LlmctlError
    from llmctl.prompt import Prompt
    from llmctl.run import EvalOptions, run_eval


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmctl' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
