"""Build throw-away git repositories for tests (real git, no network).

repo = GitRepo.init(tmp_path / "proj")
sha = repo.commit({"prompts/a.yaml": "..."}, "add a")
repo.branch("feature"); repo.tag("t1")
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}

LLMCTL_YAML = """\
default_models: [demo]
models:
  demo:
    model: scripted
    responses:
      "/(?s)FAILME/": "bad answer"
    default: ok
gate:
  quality: {min_pass_rate: 0.5, max_drop: 0.05}
  latency: {p95_max_increase: null}   # the offline model's latency is noise
"""


def git_env(monkeypatch: object) -> None:
    """Set a git identity (and no global config) for the test process."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)  # type: ignore[attr-defined]


class GitRepo:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def init(cls, root: Path, *, branch: str = "main") -> GitRepo:
        root.mkdir(parents=True, exist_ok=True)
        repo = cls(root)
        repo.git("init", "-q", "-b", branch)
        repo.git("config", "user.name", GIT_ENV["GIT_AUTHOR_NAME"])
        repo.git("config", "user.email", GIT_ENV["GIT_AUTHOR_EMAIL"])
        repo.git("config", "commit.gpgsign", "false")
        repo.git("config", "tag.gpgsign", "false")
        return repo

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        done = subprocess.run(["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr}")
        return done.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, with None, delete) files relative to the root."""
        for rel, text in files.items():
            path = self.root / rel
            if text is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def commit(self, files: dict[str, str | None] | None = None, message: str = "change") -> str:
        """Write files, stage everything and commit; returns the new SHA."""
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, start: str = "HEAD") -> None:
        self.git("branch", name, start)

    def switch(self, name: str) -> None:
        self.git("switch", "-q", name)

    def tag(self, name: str, target: str = "HEAD", message: str | None = None) -> None:
        if message is None:
            self.git("tag", name, target)
        else:
            self.git("tag", "-a", name, target, "-m", message)

    def tags(self) -> list[str]:
        return [t for t in self.git("tag", "--list").splitlines() if t]

    def log(self) -> list[str]:
        return self.git("log", "--format=%H %s").splitlines()

    def status(self) -> str:
        return self.git("status", "--porcelain")

    def show(self, spec: str) -> str:
        return self.git("show", spec)


def prompt_yaml(system: str = "You summarize tickets.", *, model: str = "demo", include: bool = True) -> str:
    user = '{% include "partials/ticket.jinja" %}' if include else "Ticket: {{ ticket }}"
    return (
        "description: test prompt\n"
        f"model: {model}\n"
        "params: {temperature: 0}\n"
        "inputs:\n"
        "  ticket: {type: string}\n"
        "messages:\n"
        "  - role: system\n"
        f"    content: {system}\n"
        "  - role: user\n"
        f"    content: '{user}'\n"
    )


def evalset_yaml(prompt: str, n: int = 12) -> str:
    """An evalset of `n` cases (tickets "0".."n-1") that pass when the output contains "ok"."""
    cases = "".join(
        f"  - id: c{i}\n    vars: {{ticket: '{i}'}}\n    assert: [{{type: contains, value: ok}}]\n" for i in range(n)
    )
    return f"prompt: {prompt}\nmodels: [demo]\ncases:\n{cases}"


def make_project(root: Path) -> GitRepo:
    """A repo with llmctl.yaml, prompts summarize (with an include) and classify, and an evalset."""
    repo = GitRepo.init(root)
    repo.commit(
        {
            "llmctl.yaml": LLMCTL_YAML,
            ".gitignore": ".llmctl/\n",
            "prompts/summarize.yaml": prompt_yaml(),
            "prompts/partials/ticket.jinja": "Ticket: {{ ticket }}\n",
            "prompts/classify.yaml": prompt_yaml("Classify the ticket.", include=False),
            "evalsets/summarize.yaml": evalset_yaml("summarize"),
        },
        "initial",
    )
    return repo


def cli(argv: list[str], cwd: Path, capsys: object) -> tuple[int, str, str]:
    """Run llmctl with this issue's commands registered (main.py may not wire them yet)."""
    import typer

    from llmctl.cli import _common, bundle_cmd, diff_cmd, log_cmd, promote_cmd

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    for module in (promote_cmd, diff_cmd, log_cmd, bundle_cmd):
        module.register(app)
    old = Path.cwd()
    os.chdir(cwd)
    try:
        code = _common.invoke(app, argv)
    finally:
        os.chdir(old)
    out = capsys.readouterr()  # type: ignore[attr-defined]
    return code, out.out, out.err


def evaluate(root: Path, evalset: str = "summarize", ref: str | None = None) -> str:
    """Run an evalset with the offline scripted model; returns the run id."""
    from llmctl.config import load_config
    from llmctl.run import EvalOptions, run_eval

    cfg = load_config(root)
    outcome = run_eval(cfg, EvalOptions(evalsets=[evalset], prompt_ref=ref))
    return outcome.runs[0].run_id


TICKET_PROMPT = """\
inputs:
  ticket: {type: string}
messages:
  - role: user
    content: "Answer: {{ ticket }}"
"""

JUDGE_PROMPT = """\
messages:
  - role: user
    content: "Rubric: {{ rubric }} Output: {{ output }}"
"""


def pr_project(root: Path, files: dict[str, str | None], monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A project committed on `main` with a `base` branch at that commit, the working directory in
    it, and no CI environment: what `eval --baseline base --changed-only` sees on a pull request."""
    git_env(monkeypatch)
    for name in ("LLMCTL_DB", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    repo = GitRepo.init(root)
    repo.commit(files, "project")
    repo.branch("base")
    monkeypatch.chdir(repo.root)
    return repo
