"""Rehearse the scaffolded workflow: its `run:` steps, in order, with its `if:` conditions, in a
temporary repository with a fake GITHUB_* environment, a local fake GitHub API and the local
OpenAI-compatible server (calls counted there). `uses:` steps are played by the harness:
checkout (the harness sets up the work tree), cache restore/save (a dict of saved `.llmctl/`
folders, restore-keys by prefix, most recent first), the rest no-ops. The install step cannot
fetch an unpublished `llmctl-ci` from PyPI: the harness checks the pin and puts this checkout's
`llmctl` on PATH instead (tests/test_install.py runs the install commands themselves).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import llmctl
from llmctl.install import current_pin
from llmctl.scaffold import DISTRIBUTION, LOCK, REQUIREMENTS, scaffold
from llmctl.testing.server import FakeOpenAIServer
from tests.gitrepo import GitRepo, git_env
from tests.test_github import REPO, TOKEN, FakeGitHub, make_handler

WORKFLOW = Path(llmctl.__file__).parent / "templates" / "project" / ".github" / "workflows" / "llmctl-eval.yml"
BIN = Path(sys.executable).parent

PROMPT = """\
inputs:
  ticket: {type: string}
messages:
  - role: system
    content: You summarize support tickets in one sentence.
  - role: user
    content: "Summarize: {{ ticket }}"
"""
ROWS = "".join(
    json.dumps({"id": f"t{i}", "ticket": f"ticket {i}: my order is late, I want a refund"}) + "\n" for i in range(8)
)
EVALSET = """\
prompt: summarize
models: [local]
source: {path: data/tickets.jsonl, columns: {id: id, vars: [ticket]}}
evaluators:
  - {type: icontains, value: refund}
"""


def config(base_url: str, price: float = 0.01) -> str:
    return f"""\
default_models: [local]
models:
  local:
    model: openai/fake-model
    api_base: {base_url}
    api_key_env: OPENAI_API_KEY
    price: {{input_per_1k: {price}, output_per_1k: 0.02}}
gate:
  quality: {{min_pass_rate: 0.9, max_drop: 0.05}}
  cost: {{max_increase: 0.10}}
  latency: {{p95_max_increase: null}}
"""


class Rehearsal:
    def __init__(self, repo: GitRepo, srv: FakeOpenAIServer, gh: FakeGitHub, tmp: Path) -> None:
        self.repo, self.srv, self.gh, self.tmp = repo, srv, gh, tmp
        self.caches: list[tuple[str, Path]] = []  # (key, saved .llmctl/), oldest first
        self.doc = yaml.safe_load(WORKFLOW.read_text())
        self.job = self.doc["jobs"]["eval"]
        assert set(self.job["env"]) == {"EVENT", "BASE_REF", "IS_FORK"}

    def _expr(self, text: str, sha: str) -> str:
        return text.replace("${{ runner.os }}", "Linux").replace("${{ github.sha }}", sha)

    def _condition(self, expr: str | None, env: dict[str, str], ok: bool) -> bool:
        if expr is None:
            return ok  # success()
        always = False
        result = True
        for term in (t.strip() for t in expr.split("&&")):
            if term == "always()":
                always = True
            elif m := re.fullmatch(r"env\.(\w+) == '([^']*)'", term):
                result = result and env.get(m[1]) == m[2]
            elif m := re.fullmatch(r"hashFiles\('([^']+)'\) != ''", term):
                result = result and (self.repo.root / m[1]).is_file()
            else:
                raise AssertionError(f"the rehearsal cannot evaluate {term!r}: teach it, do not skip it")
        return result and (always or ok)

    def job_run(self, event: str, *, base_ref: str = "", fork: bool = False) -> dict[str, int]:
        """Run the job at the work tree's HEAD; returns {step name: exit code} of the steps that ran."""
        root = self.repo.root
        self.repo.git("clean", "-fdxq")  # a fresh runner: no store, no reports
        sha = self.repo.head()
        event_path = self.tmp / "event.json"
        event_path.write_text(json.dumps({"pull_request": {"number": 7}} if event == "pull_request" else {}))
        summary = self.tmp / "summary.md"
        summary.write_text("")
        job_env = {"EVENT": event, "BASE_REF": base_ref, "IS_FORK": "true" if fork else "false"}
        secrets = {} if fork else {"OPENAI_API_KEY": "sk-rehearsal", "GITHUB_TOKEN": TOKEN}
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "LLMCTL_"))},
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.gh.base,
            "GITHUB_SHA": sha,
            "GITHUB_STEP_SUMMARY": str(summary),
            **job_env,
        }
        ran: dict[str, int] = {}
        ok = True
        for step in self.job["steps"]:
            name = step.get("name") or step.get("uses")
            if not self._condition(step.get("if"), job_env, ok):
                continue
            uses = step.get("uses", "")
            if uses.startswith("actions/cache/restore"):
                key = self._expr(step["with"]["key"], sha)
                prefixes = [self._expr(k.strip(), sha) for k in step["with"]["restore-keys"].splitlines() if k.strip()]
                hit = next((p for k, p in reversed(self.caches) if k == key), None) or next(
                    (p for k, p in reversed(self.caches) if any(k.startswith(x) for x in prefixes)), None
                )
                if hit is not None:
                    shutil.copytree(hit, root / step["with"]["path"])
            elif uses.startswith("actions/cache/save"):
                key = self._expr(step["with"]["key"], sha)
                saved = self.tmp / "caches" / key
                if (root / ".llmctl").is_dir() and not saved.exists():
                    shutil.copytree(root / ".llmctl", saved)
                    self.caches.append((key, saved))
            elif uses:
                pass  # checkout, setup-python, setup-uv, upload-artifact
            elif LOCK in step["run"]:
                pins = [ln for ln in (root / REQUIREMENTS).read_text().splitlines() if ln and ln[0] != "#"]
                assert pins == [current_pin().requirement] and pins[0].startswith(DISTRIBUTION)
                assert "env" not in step  # no secret while installing
                ran[name] = 0  # the install itself is rehearsed by tests/test_install.py
            else:
                env = dict(base_env)
                for k, v in (step.get("env") or {}).items():
                    m = re.fullmatch(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", str(v))
                    env[k] = secrets.get(m[1], "") if m else str(v)
                proc = subprocess.run(
                    ["bash", "-e", "-c", step["run"]], cwd=root, env=env, capture_output=True, text=True, timeout=300
                )
                ran[name] = proc.returncode
                self.output = getattr(self, "output", "") + proc.stdout + proc.stderr
                ok = ok and proc.returncode == 0
        return ran

    def report(self) -> str:
        return (self.repo.root / "report.md").read_text(encoding="utf-8").replace("\\", "")


@pytest.fixture
def rehearsal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    git_env(monkeypatch)
    gh = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(gh))
    gh.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with FakeOpenAIServer(responses={"BREAK": "no idea"}, default="The customer wants a refund.") as srv:
        repo = GitRepo.init(tmp_path / "proj")
        scaffold(repo.root)
        for folder in ("prompts", "evalsets"):  # the rehearsal's own suite replaces the examples
            shutil.rmtree(repo.root / folder)
        repo.write(
            {
                "llmctl.yaml": config(srv.base_url),
                "prompts/summarize.yaml": PROMPT,
                "evalsets/summarize.yaml": EVALSET,
                "evalsets/data/tickets.jsonl": ROWS,
                "README.md": "project\n",
            }
        )
        repo.commit(message="scaffold")
        yield Rehearsal(repo, srv, gh, tmp_path)
    server.shutdown()
    server.server_close()


def _pr(r: Rehearsal, name: str, files: dict[str, str | None]) -> None:
    r.repo.git("clean", "-fdxq")  # the last job's reports
    r.repo.git("switch", "-q", "-C", name, "main")
    r.repo.commit(files, name)
    r.srv.reset()


def test_workflow_rehearsal(rehearsal: Rehearsal) -> None:
    r = rehearsal
    eval_pr = "Evaluate (same-repository PR)"

    # push to main: everything evaluated, the store saved under the commit
    main_sha = r.repo.head()
    ran = r.job_run("push")
    assert ran["Evaluate (push to the default branch)"] == 0, r.output
    assert [k for k, _ in r.caches] == [f"llmctl-store-Linux-{main_sha}"]
    assert r.srv.requests == 8
    r.repo.git("update-ref", "refs/remotes/origin/main", main_sha)

    # a PR that changes only the data file: evaluated, breaks a case -> exit 1, comment posted
    _pr(r, "pr-data", {"evalsets/data/tickets.jsonl": ROWS + '{"id": "t9", "ticket": "BREAK this"}\n'})
    ran = r.job_run("pull_request", base_ref="main")
    assert ran[eval_pr] == 1, r.output
    assert "evaluated because: evalsets/data/tickets.jsonl changed" in r.report()
    assert len(r.gh.comments) == 1 and "FAIL" in r.gh.comments[0]["body"]
    assert r.srv.requests == 1, r.output  # only the new row is called (its baseline twin is then a cache hit)

    # a PR that changes only llmctl.yaml's price: evaluated, the cost check fails; no call made
    _pr(r, "pr-price", {"llmctl.yaml": config(r.srv.base_url, price=0.05)})
    ran = r.job_run("pull_request", base_ref="main")
    assert ran[eval_pr] == 1, r.output
    report = r.report()
    assert "llmctl.yaml: models.local.price.input_per_1k changed" in report
    assert re.search(r"cost_per_case.*FAIL", report), report
    assert r.srv.requests == 0

    # a fork PR: lint plus a dry run, no secrets, exit 0, no comment (its token could not post one)
    before = [dict(c) for c in r.gh.comments]
    _pr(r, "pr-fork", {"prompts/summarize.yaml": PROMPT.replace("one sentence", "two sentences")})
    ran = r.job_run("pull_request", base_ref="main", fork=True)
    assert ran["Dry run (fork PR, no secrets)"] == 0 and eval_pr not in ran, r.output
    assert "Post or update the PR comment" not in ran
    assert "dry run (not evaluated)" in r.report() and "16 call(s)" in r.report()
    assert r.srv.requests == 0 and r.gh.comments == before

    # a PR that changes nothing an evalset depends on: a current report, the old FAIL comment replaced
    _pr(r, "pr-docs", {"README.md": "more docs\n"})
    ran = r.job_run("pull_request", base_ref="main")
    assert ran[eval_pr] == 0 and ran["Post or update the PR comment"] == 0, r.output
    assert "No evalset affected by this change" in r.report()
    assert len(r.gh.comments) == 1 and "No evalset affected" in r.gh.comments[0]["body"]
    assert "FAIL" not in r.gh.comments[0]["body"]
    assert r.srv.requests == 0

    # a prompt change: the baseline side is answered from main's store (0 baseline calls)
    _pr(r, "pr-prompt", {"prompts/summarize.yaml": PROMPT.replace("one sentence", "two sentences")})
    ran = r.job_run("pull_request", base_ref="main")
    assert ran[eval_pr] == 0, r.output
    assert r.srv.requests == 8  # the candidate's 8 cases; none for the baseline
    assert "baseline: 8 of 8 result(s) reused from the store, 0 evaluated now" in r.report()
    assert [k for k, _ in r.caches] == [f"llmctl-store-Linux-{main_sha}"]  # PRs never save
