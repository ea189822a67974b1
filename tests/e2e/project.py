"""Build small llmctl projects (optionally git repos) for end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from llmctl.cli._common import invoke
from llmctl.cli.main import app


def write(root: Path, files: dict[str, Any]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not isinstance(content, str):
            content = yaml.safe_dump(content, sort_keys=False)
        path.write_text(content, encoding="utf-8")


def config(base_url: str | None = None, **extra: Any) -> dict[str, Any]:
    models: dict[str, Any] = {}
    if base_url is not None:
        models["fake"] = {
            "model": "openai/fake-model",
            "api_base": base_url,
            "api_key_env": "FAKE_API_KEY",
            "price": {"input_per_1k": 0.01, "output_per_1k": 0.02},
            "timeout": 5,
        }
    cfg: dict[str, Any] = {
        "store": ".llmctl/llmctl.duckdb",
        "concurrency": 8,
        "retries": 2,
        "models": models,
        "default_models": ["fake"] if base_url else ["echo"],
    }
    cfg.update(extra)
    return cfg


def prompt(system: str, user: str = "{{ question }}") -> dict[str, Any]:
    return {
        "inputs": {"question": {"type": "string"}},
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }


def evalset(name: str, n: int, *, expected: str = "yes", models: list[str] | None = None, **extra: Any) -> dict:
    data: dict[str, Any] = {
        "prompt": name,
        "models": models or ["fake"],
        "evaluators": [{"type": "icontains", "value": expected}],
        "cases": [{"id": f"case-{i:03d}", "vars": {"question": f"question number {i}"}} for i in range(n)],
    }
    data.update(extra)
    return data


def sourced_project(root: Path, rows: list[dict[str, Any]]) -> None:
    """A project whose evalset `qa` reads its cases from the data file evalsets/data/qa.jsonl
    (`rows`), answered by the offline `echo` model and scored offline."""
    write(
        root,
        {
            "llmctl.yaml": config(),
            "prompts/qa.yaml": prompt("Answer."),
            "evalsets/data/qa.jsonl": "".join(json.dumps(row) + "\n" for row in rows),
            "evalsets/qa.yaml": {
                "prompt": "qa",
                "models": ["echo"],
                "source": "evalsets/data/qa.jsonl",
                "evaluators": [{"type": "icontains", "value": "question"}],
            },
        },
    )


def llmctl(root: Path, *argv: str, capsys: Any = None) -> tuple[int, str]:
    """Run the CLI in-process in `root`; returns (exit code, stdout+stderr)."""
    old = Path.cwd()
    os.chdir(root)
    try:
        code = invoke(app, list(argv))
    finally:
        os.chdir(old)
    out = ""
    if capsys is not None:
        captured = capsys.readouterr()
        out = captured.out + captured.err
    return code, out


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


def init_repo(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    write(root, {".gitignore": ".llmctl/\n"})
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
