"""`llmctl promote` against real git repos and a real store (runs from the offline scripted model)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gitrepo import GitRepo, cli, evaluate, git_env, make_project, prompt_yaml

from llmctl import lockfile as lf


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    return make_project(tmp_path / "proj")


def lock_of(repo: GitRepo) -> lf.Lockfile:
    return lf.load(repo.root / "prompts/llmctl.lock")


def snapshot(repo: GitRepo) -> tuple[str | None, list[str], list[str], str]:
    path = repo.root / "prompts/llmctl.lock"
    return (path.read_text() if path.exists() else None, repo.log(), repo.tags(), repo.status())


def test_promote_with_passing_eval_then_rollback(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    run1 = evaluate(project.root)
    code, out, err = cli(["promote", "summarize", "--to", "production"], project.root, capsys)
    assert code == 0, err
    assert "Released summarize v1" in out and "tagged summarize/v1" in out
    lock = lock_of(project)
    rel = lock.prompts["summarize"].releases["v1"]
    assert rel.evals[0].run == run1 and rel.evals[0].gate_passed is True and not rel.forced
    assert rel.commit == project.git("rev-parse", "HEAD~1")
    assert project.log()[0].endswith("llmctl: promote summarize v1 to production")
    assert project.git("show", "--name-only", "--format=", "HEAD") == "prompts/llmctl.lock"
    assert "summarize/v1" in project.tags()
    assert "content: sha256:" in project.git("tag", "-n20", "-l", "summarize/v1")
    assert project.status() == ""

    project.commit({"prompts/summarize.yaml": prompt_yaml("Version two.")}, "v2")
    evaluate(project.root)
    code, out, err = cli(["promote", "summarize", "--to", "production"], project.root, capsys)
    assert code == 0, err
    assert "production: v1 -> v2" in out
    # rollback to v1: no new release or tag, label history shows it
    code, out, err = cli(["promote", "summarize@v1", "--to", "production"], project.root, capsys)
    assert code == 0, err
    label = lock_of(project).prompts["summarize"].labels["production"]
    assert label.version == "v1" and [h.version for h in label.history] == ["v1", "v2", "v1"]
    assert sorted(project.tags()) == ["summarize/v1", "summarize/v2"]
    code, out, _ = cli(["log", "summarize"], project.root, capsys)
    assert code == 0 and "rollback" in out and "100.0%" in out
    # same version again: nothing to do, nothing written
    before = snapshot(project)
    code, out, _ = cli(["promote", "summarize@v1", "--to", "production"], project.root, capsys)
    assert code == 0 and "nothing to do" in out and snapshot(project) == before


def test_failing_gate_refused_then_forced(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.commit({"prompts/partials/ticket.jinja": "FAILME {{ ticket }}\n"}, "bad")
    evaluate(project.root)
    before = snapshot(project)
    code, _, err = cli(["promote", "summarize", "--to", "production"], project.root, capsys)
    assert code == 1 and "failed its gate" in err
    assert snapshot(project) == before
    code, out, err = cli(["promote", "summarize", "--to", "production", "--force"], project.root, capsys)
    assert code == 0, err
    assert "FORCED" in out
    rel = lock_of(project).prompts["summarize"].releases["v1"]
    assert rel.forced and rel.evals[0].gate_passed is False
    assert lock_of(project).prompts["summarize"].labels["production"].history[0].forced


def test_regression_against_label_holder(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    evaluate(project.root)
    assert cli(["promote", "summarize", "--to", "production"], project.root, capsys)[0] == 0
    # v2 passes the absolute floor (50%) but drops 100% -> 50% (6 of 12 cases flip): a regression against production
    project.commit({"prompts/partials/ticket.jinja": "{% if ticket|int < 6 %}FAILME{% endif %}{{ ticket }}\n"}, "worse")
    evaluate(project.root)
    before = snapshot(project)
    code, _, err = cli(["promote", "summarize", "--to", "production"], project.root, capsys)
    assert code == 1 and "regression against production" in err, err
    assert snapshot(project) == before
    # a fresh label has no holder to compare with: the floor alone applies
    code, _out, err = cli(["promote", "summarize", "--to", "staging"], project.root, capsys)
    assert code == 0, err


def test_missing_eval_refused(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(project)
    code, _, err = cli(["promote", "summarize", "--to", "production"], project.root, capsys)
    assert code == 2 and "no completed eval" in err and "--force" in err
    assert snapshot(project) == before


@pytest.mark.parametrize("label", ["has space", "-x", "v3", "WORKTREE", "a/b", ""])
def test_bad_label_names(project: GitRepo, capsys: pytest.CaptureFixture[str], label: str) -> None:
    before = snapshot(project)
    code, _, err = cli(["promote", "summarize", "--to", label, "--force"], project.root, capsys)
    assert code == 2, err
    assert snapshot(project) == before


def test_dirty_work_tree_and_bad_refs(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write({"prompts/summarize.yaml": prompt_yaml("Uncommitted.")})
    before = snapshot(project)
    code, _, err = cli(["promote", "summarize", "--to", "production", "--force"], project.root, capsys)
    assert code == 2 and "uncommitted changes" in err
    project.write({"prompts/summarize.yaml": prompt_yaml(), "prompts/new.yaml": prompt_yaml()})
    code, _, err = cli(["promote", "summarize@HEAD", "--to", "production", "--force"], project.root, capsys)
    assert code == 2 and "prompts/new.yaml" in err
    (project.root / "prompts/new.yaml").unlink()
    assert snapshot(project)[:3] == before[:3]
    before = snapshot(project)
    for spec, msg in [("summarize@nope", "unknown ref"), ("ghost", "unknown prompt"), ("summarize@v4", "no releases")]:
        code, _, err = cli(["promote", spec, "--to", "production", "--force"], project.root, capsys)
        assert code == 2 and msg in err, (spec, err)
    assert snapshot(project) == before


def test_other_changes_are_not_swept_into_the_commit(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write({"README.md": "staged change\n"})
    project.git("add", "README.md")
    code, _, err = cli(["promote", "summarize", "--to", "staging", "--force"], project.root, capsys)
    assert code == 0, err
    assert project.git("show", "--name-only", "--format=", "HEAD") == "prompts/llmctl.lock"
    assert "A  README.md" in project.status()


def test_no_commit_and_git_ref(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    first = project.head()
    project.commit({"prompts/summarize.yaml": prompt_yaml("Later.")}, "later")
    code, _out, err = cli(
        ["promote", f"summarize@{first[:8]}", "--to", "staging", "--force", "--no-commit"], project.root, capsys
    )
    assert code == 0, err
    assert project.log()[0].endswith("later") and project.tags() == []
    assert lock_of(project).prompts["summarize"].releases["v1"].commit == first
    assert "prompts/llmctl.lock" in project.status()
    # a second --no-commit promotion may build on the uncommitted lockfile
    code, _, err = cli(["promote", "classify", "--to", "staging", "--force", "--no-commit"], project.root, capsys)
    assert code == 0, err
    # but a committing one refuses to sweep it in
    code, _, err = cli(["promote", "summarize", "--to", "production", "--force"], project.root, capsys)
    assert code == 2 and "llmctl.lock" in err


def test_hand_edited_invalid_lockfile(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["promote", "summarize", "--to", "production", "--force"], project.root, capsys)[0] == 0
    path = project.root / "prompts/llmctl.lock"
    text = path.read_text().replace("forced: true", "forced: maybe", 1)
    lineno = next(i for i, line in enumerate(text.splitlines(), 1) if "forced: maybe" in line)
    project.commit({"prompts/llmctl.lock": text}, "hand edit")
    before = snapshot(project)
    code, _, err = cli(["promote", "classify", "--to", "production", "--force"], project.root, capsys)
    assert code == 2 and f"prompts/llmctl.lock:{lineno}:" in err, err
    assert snapshot(project) == before


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "plain"
    (root / "prompts").mkdir(parents=True)
    (root / "llmctl.yaml").write_text("default_models: [echo]\n")
    (root / "prompts/a.yaml").write_text(prompt_yaml(include=False))
    code, _, err = cli(["promote", "a", "--to", "production", "--force"], root, capsys)
    assert code == 2 and "not a git repository" in err
    assert not (root / "prompts/llmctl.lock").exists()
