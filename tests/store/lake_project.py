"""A small llmctl project for the shared-store tests: N cases per evalset, offline models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from llmctl.store_location import LakeSpec

LLMCTL = [sys.executable, "-m", "llmctl.cli.main"]


def make_project(
    root: Path, store: Any, *, evalsets: int = 1, cases: int = 20, latency_ms: float = 0, api_base: str | None = None
) -> Path:
    """llmctl.yaml with `store:` as given, one prompt, `evalsets` evalsets (`e0`, `e1`...) of `cases` cases.

    The model `bot` is the offline scripted model, or with `api_base` an OpenAI-compatible server there."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "prompts").mkdir(exist_ok=True)
    (root / "evalsets").mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "store": store,
        "default_models": ["bot"],
        "models": {"bot": {"model": "scripted", "default": "ok: shipped", "latency_ms": latency_ms}},
        "gate": {"quality": {"min_pass_rate": 0.5}},
    }
    if api_base:
        config["models"] = {"bot": {"model": "openai/gpt-4o-mini", "api_base": api_base}}
    (root / "llmctl.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (root / "prompts" / "reply.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "reply",
                "inputs": {"q": {"type": "string"}},
                "messages": [{"role": "user", "content": "Question {{ q }}"}],
            }
        ),
        encoding="utf-8",
    )
    for e in range(evalsets):
        data = root / "evalsets" / f"e{e}.jsonl"
        with data.open("w", encoding="utf-8") as fh:
            for i in range(cases):
                fh.write(json.dumps({"id": f"e{e}-case-{i}", "vars": {"q": f"{e}/{i}"}}) + "\n")
        (root / "evalsets" / f"e{e}.yaml").write_text(
            yaml.safe_dump(
                {
                    "prompt": "reply",
                    "source": f"evalsets/e{e}.jsonl",
                    "evaluators": [{"type": "contains", "value": "shipped"}],
                }
            ),
            encoding="utf-8",
        )
    return root


def store_location(root: Path) -> LakeSpec | Path:
    """The store the project at `root` configures, as its own llmctl.yaml says (LLMCTL_STORE of
    the test process set aside)."""
    from llmctl.config import load_config

    old = os.environ.pop("LLMCTL_STORE", None)
    try:
        return load_config(root).store_location
    finally:
        if old is not None:
            os.environ["LLMCTL_STORE"] = old


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("LLMCTL_")}
    out.update(extra)
    return out


def llmctl(args: list[str], cwd: Path, *, timeout: float = 600, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LLMCTL, *args], cwd=cwd, env=env(**extra_env), capture_output=True, text=True, timeout=timeout, check=False
    )


def spawn(args: list[str], cwd: Path, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*LLMCTL, *args],
        cwd=cwd,
        env=env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
