"""`llmctl promote` against real git repos and a real store (runs from the offline scripted model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.release import lockfile as lf
from tests.gitrepo import GitRepo, cli, evaluate, prompt_yaml


def lock_of(repo: GitRepo) -> lf.Lockfile:
    return lf.load(repo.root / "prompts/llmctl.lock")


def snapshot(repo: GitRepo) -> tuple[str | None, list[str], list[str], str]:
    path = repo.root / "prompts/llmctl.lock"
    return (path.read_text() if path.exists() else None, repo.log(), repo.tags(), repo.status())


def test_promote_with_passing_eval_then_rollback(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    run1 = evaluate(git_project.root)
    code, out, err = cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)
    assert code == 0, err
    assert "Released summarize v1" in out and "tagged summarize/v1" in out
    lock = lock_of(git_project)
    rel = lock.prompts["summarize"].releases["v1"]
    assert rel.evals[0].run == run1 and rel.evals[0].gate_passed is True and not rel.forced
    assert rel.commit == git_project.git("rev-parse", "HEAD~1")
    assert git_project.log()[0].endswith("llmctl: promote summarize v1 to production")
    assert git_project.git("show", "--name-only", "--format=", "HEAD") == "prompts/llmctl.lock"
    assert "summarize/v1" in git_project.tags()
    assert "content: sha256:" in git_project.git("tag", "-n20", "-l", "summarize/v1")
    assert git_project.status() == ""

    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Version two.")}, "v2")
    evaluate(git_project.root)
    code, out, err = cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)
    assert code == 0, err
    assert "production: v1 -> v2" in out
    # rollback to v1: no new release or tag, label history shows it
    code, out, err = cli(["promote", "summarize@v1", "--to", "production"], git_project.root, capsys)
    assert code == 0, err
    label = lock_of(git_project).prompts["summarize"].labels["production"]
    assert label.version == "v1" and [h.version for h in label.history] == ["v1", "v2", "v1"]
    assert sorted(git_project.tags()) == ["summarize/v1", "summarize/v2"]
    code, out, _ = cli(["log", "summarize"], git_project.root, capsys)
    assert code == 0 and "rollback" in out and "100.0%" in out
    # same version again: nothing to do, nothing written
    before = snapshot(git_project)
    code, out, _ = cli(["promote", "summarize@v1", "--to", "production"], git_project.root, capsys)
    assert code == 0 and "nothing to do" in out and snapshot(git_project) == before


def test_rollback_after_a_baseline_comparison_needs_no_force(
    git_project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval --baseline production` runs v1 again as the baseline side; that run has no verdict of its own
    and must not hide the verdict v1 earned as a candidate (issue 14: rollback needed --force)."""
    from llmctl.config import load_config
    from llmctl.run import EvalOptions, run_eval

    evaluate(git_project.root)
    assert cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)[0] == 0
    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Version two.")}, "v2")
    run_eval(load_config(git_project.root), EvalOptions(evalsets=["summarize"], baseline="production"))
    assert cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)[0] == 0
    code, out, err = cli(["promote", "summarize@v1", "--to", "production"], git_project.root, capsys)
    assert code == 0, err
    assert "production: v2 -> v1" in out and "FORCED" not in out
    label = lock_of(git_project).prompts["summarize"].labels["production"]
    assert label.version == "v1" and not label.history[-1].forced


def test_no_verdict_hint_points_at_eval_at_ref(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    from llmctl.config import load_config
    from llmctl.run import EvalOptions, run_eval

    evaluate(git_project.root)
    assert cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)[0] == 0
    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Version two.")}, "v2")
    # v2 only ever ran as a baseline side (against HEAD's work tree, which is v2 too: compare HEAD~1)
    run_eval(load_config(git_project.root), EvalOptions(evalsets=["summarize"], baseline="HEAD", prompt_ref="HEAD~1"))
    code, _, err = cli(["promote", "summarize@HEAD", "--to", "staging"], git_project.root, capsys)
    assert code == 2 and "no completed eval" in err and "llmctl eval --at HEAD" in err, err


def test_failing_gate_refused_then_forced(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git_project.commit({"prompts/partials/ticket.jinja": "FAILME {{ ticket }}\n"}, "bad")
    evaluate(git_project.root)
    before = snapshot(git_project)
    code, _, err = cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)
    assert code == 1 and "failed its gate" in err
    assert snapshot(git_project) == before
    code, out, err = cli(["promote", "summarize", "--to", "production", "--force"], git_project.root, capsys)
    assert code == 0, err
    assert "FORCED" in out
    rel = lock_of(git_project).prompts["summarize"].releases["v1"]
    assert rel.forced and rel.evals[0].gate_passed is False
    assert lock_of(git_project).prompts["summarize"].labels["production"].history[0].forced


def test_regression_against_label_holder(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    evaluate(git_project.root)
    assert cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)[0] == 0
    # v2 passes the absolute floor (50%) but drops 100% -> 50% (6 of 12 cases flip): a regression against production
    git_project.commit(
        {"prompts/partials/ticket.jinja": "{% if ticket|int < 6 %}FAILME{% endif %}{{ ticket }}\n"}, "worse"
    )
    evaluate(git_project.root)
    before = snapshot(git_project)
    code, _, err = cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)
    assert code == 1 and "regression against production" in err, err
    assert snapshot(git_project) == before
    # a fresh label has no holder to compare with: the floor alone applies
    code, _out, err = cli(["promote", "summarize", "--to", "staging"], git_project.root, capsys)
    assert code == 0, err


def test_missing_eval_refused(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(git_project)
    code, _, err = cli(["promote", "summarize", "--to", "production"], git_project.root, capsys)
    assert code == 2 and "no completed eval" in err and "--force" in err
    assert snapshot(git_project) == before


@pytest.mark.parametrize("label", ["has space", "-x", "v3", "WORKTREE", "a/b", ""])
def test_bad_label_names(git_project: GitRepo, capsys: pytest.CaptureFixture[str], label: str) -> None:
    before = snapshot(git_project)
    code, _, err = cli(["promote", "summarize", "--to", label, "--force"], git_project.root, capsys)
    assert code == 2, err
    assert snapshot(git_project) == before


def test_dirty_work_tree_and_bad_refs(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git_project.write({"prompts/summarize.yaml": prompt_yaml("Uncommitted.")})
    before = snapshot(git_project)
    code, _, err = cli(["promote", "summarize", "--to", "production", "--force"], git_project.root, capsys)
    assert code == 2 and "uncommitted changes" in err
    git_project.write({"prompts/summarize.yaml": prompt_yaml(), "prompts/new.yaml": prompt_yaml()})
    code, _, err = cli(["promote", "summarize@HEAD", "--to", "production", "--force"], git_project.root, capsys)
    assert code == 2 and "prompts/new.yaml" in err
    (git_project.root / "prompts/new.yaml").unlink()
    assert snapshot(git_project)[:3] == before[:3]
    before = snapshot(git_project)
    for spec, msg in [("summarize@nope", "unknown ref"), ("ghost", "unknown prompt"), ("summarize@v4", "no releases")]:
        code, _, err = cli(["promote", spec, "--to", "production", "--force"], git_project.root, capsys)
        assert code == 2 and msg in err, (spec, err)
    assert snapshot(git_project) == before


def test_other_changes_are_not_swept_into_the_commit(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git_project.write({"README.md": "staged change\n"})
    git_project.git("add", "README.md")
    code, _, err = cli(["promote", "summarize", "--to", "staging", "--force"], git_project.root, capsys)
    assert code == 0, err
    assert git_project.git("show", "--name-only", "--format=", "HEAD") == "prompts/llmctl.lock"
    assert "A  README.md" in git_project.status()


def test_no_commit_and_git_ref(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    first = git_project.head()
    git_project.commit({"prompts/summarize.yaml": prompt_yaml("Later.")}, "later")
    code, _out, err = cli(
        ["promote", f"summarize@{first[:8]}", "--to", "staging", "--force", "--no-commit"], git_project.root, capsys
    )
    assert code == 0, err
    assert git_project.log()[0].endswith("later") and git_project.tags() == []
    assert lock_of(git_project).prompts["summarize"].releases["v1"].commit == first
    assert "prompts/llmctl.lock" in git_project.status()
    # a second --no-commit promotion may build on the uncommitted lockfile
    code, _, err = cli(["promote", "classify", "--to", "staging", "--force", "--no-commit"], git_project.root, capsys)
    assert code == 0, err
    # but a committing one refuses to sweep it in
    code, _, err = cli(["promote", "summarize", "--to", "production", "--force"], git_project.root, capsys)
    assert code == 2 and "llmctl.lock" in err


def test_hand_edited_invalid_lockfile(git_project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["promote", "summarize", "--to", "production", "--force"], git_project.root, capsys)[0] == 0
    path = git_project.root / "prompts/llmctl.lock"
    text = path.read_text().replace("forced: true", "forced: maybe", 1)
    lineno = next(i for i, line in enumerate(text.splitlines(), 1) if "forced: maybe" in line)
    git_project.commit({"prompts/llmctl.lock": text}, "hand edit")
    before = snapshot(git_project)
    code, _, err = cli(["promote", "classify", "--to", "production", "--force"], git_project.root, capsys)
    assert code == 2 and f"prompts/llmctl.lock:{lineno}:" in err, err
    assert snapshot(git_project) == before


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "plain"
    (root / "prompts").mkdir(parents=True)
    (root / "llmctl.yaml").write_text("default_models: [echo]\n")
    (root / "prompts/a.yaml").write_text(prompt_yaml(include=False))
    code, _, err = cli(["promote", "a", "--to", "production", "--force"], root, capsys)
    assert code == 2 and "not a git repository" in err
    assert not (root / "prompts/llmctl.lock").exists()
