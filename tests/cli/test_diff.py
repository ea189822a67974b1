"""`llmctl diff A B`: template diff and results diff, with and without runs."""

from __future__ import annotations

import json
import sys

import pytest

from tests.gitrepo import GitRepo, cli, evaluate, prompt_yaml


def test_diff_without_runs(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Second version.", model="other")}, "two")
    code, out, err = cli(["diff", "HEAD~1", "HEAD"], git_project.root, capsys)
    assert code == 0, err
    assert "-  content: You summarize tickets." in out
    assert "+model: other" in out
    assert "no results to compare" in out and "identical content" in out  # classify unchanged
    code, out, err = cli(["diff", "summarize@HEAD~1", "summarize@HEAD", "--json"], git_project.root, capsys)
    data = json.loads(out)
    assert [p["prompt"] for p in data["prompts"]] == ["summarize"]
    assert data["prompts"][0]["changed"] and data["prompts"][0]["results"] == []


def test_diff_with_runs(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    evaluate(git_project.root)
    assert cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)[0] == 0
    git_project.commit({"prompts/partials/ticket.jinja": "{% if ticket|int < 6 %}FAILME{% endif %}{{ ticket }}\n"}, "x")
    run_b = evaluate(git_project.root)
    code, out, err = cli(["diff", "production", "WORKTREE", "--json"], git_project.root, capsys)
    assert code == 0, err
    data = json.loads(out)
    (pd,) = data["prompts"]
    assert pd["prompt"] == "summarize" and "+{% if ticket|int < 6 %}FAILME" in pd["diff"]
    (res,) = pd["results"]
    assert res["b_run"] == run_b and res["verdict"]["passed"] is False
    flipped = res["verdict"]["groups"][0]["flipped"]
    assert len(flipped) == 6 and all(f["direction"] == "pass->fail" for f in flipped)
    assert flipped[0]["baseline_output"] == "ok" and flipped[0]["candidate_output"] == "bad answer"
    code, out, err = cli(["diff", "v1", run_b], git_project.root, capsys)  # a run id as a side
    assert code == 0, err
    assert "pass->fail" in out and "bad answer" in out and "gate FAILED" in out


def test_diff_run_evaluates_missing_side(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Two.")}, "two")
    code, out, err = cli(["diff", "summarize@HEAD~1", "summarize@HEAD", "--run", "--json"], git_project.root, capsys)
    assert code == 0, err
    (pd,) = json.loads(out)["prompts"]
    assert len(pd["results"]) == 1 and pd["results"][0]["verdict"]["passed"] is True


def test_diff_bad_refs(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["diff", "nope", "HEAD"], git_project.root, capsys)
    assert code == 2 and "unknown ref 'nope'" in err and "main" in err
    code, _, err = cli(["diff", "ghost@HEAD", "HEAD"], git_project.root, capsys)
    assert code == 2 and "unknown prompt" in err
    code, _, err = cli(["diff", "v1", "HEAD"], git_project.root, capsys)
    assert code == 2 and "no prompt has a release v1" in err


def test_diff_is_fast(git_project: GitRepo) -> None:
    """`diff` must not import litellm (checked in a fresh interpreter)."""
    import subprocess

    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Two.")}, "two")
    code = (
        "import sys; from llmctl.cli import _common, diff_cmd; import typer\n"
        "app = typer.Typer(); diff_cmd.register(app); app.command('x')(lambda: None)\n"
        "rc = _common.invoke(app, ['diff', 'HEAD~1', 'HEAD'])\n"
        "assert rc == 0, rc\n"
        "assert 'litellm' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=git_project.root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
