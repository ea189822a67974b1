"""Version resolution against real temporary git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl import load_prompt
from llmctl.config import load_config
from llmctl.errors import InputError, RefError
from llmctl.release import load_prompt_ref, promote, prompt_at, resolve_all, resolve_version, source_at
from tests.gitrepo import GitRepo, prompt_yaml


def system_of(prompt) -> str:
    return prompt.messages[0].content


def test_git_refs_of_every_kind(project: GitRepo) -> None:
    first = project.head()
    project.tag("t-first")
    project.commit({"prompts/summarize.yaml": prompt_yaml("Second.")}, "second")
    project.branch("feature")
    project.commit({"prompts/summarize.yaml": prompt_yaml("Third.")}, "third")
    project.tag("t-third", message="annotated")
    project.write({"prompts/summarize.yaml": prompt_yaml("Dirty.")})
    cfg = load_config(project.root)

    assert system_of(prompt_at(cfg, "summarize", "HEAD~2")) == "You summarize tickets."
    assert system_of(prompt_at(cfg, "summarize", first)) == "You summarize tickets."
    assert system_of(prompt_at(cfg, "summarize", first[:10])) == "You summarize tickets."
    assert system_of(prompt_at(cfg, "summarize", "t-first")) == "You summarize tickets."
    assert system_of(prompt_at(cfg, "summarize", "feature")) == "Second."
    assert system_of(prompt_at(cfg, "summarize", "main")) == "Third."
    assert system_of(prompt_at(cfg, "summarize", "t-third")) == "Third."
    assert system_of(prompt_at(cfg, "summarize", "git:HEAD")) == "Third."
    assert system_of(prompt_at(cfg, "summarize", "WORKTREE")) == "Dirty."
    assert system_of(load_prompt_ref(cfg, "summarize@HEAD~1")) == "Second."
    # reading git never touched the work tree
    assert "Dirty." in (project.root / "prompts/summarize.yaml").read_text()


def test_includes_resolve_at_the_same_ref(project: GitRepo) -> None:
    project.commit({"prompts/partials/ticket.jinja": "NEW TICKET: {{ ticket }}\n"}, "partial")
    cfg = load_config(project.root)
    old = prompt_at(cfg, "summarize", "HEAD~1")
    new = prompt_at(cfg, "summarize", "HEAD")
    assert old.render({"ticket": "x"})[1]["content"].startswith("Ticket: x")
    assert new.render({"ticket": "x"})[1]["content"].startswith("NEW TICKET: x")
    assert old.hash != new.hash


def test_same_content_in_two_commits_is_one_version(project: GitRepo) -> None:
    cfg = load_config(project.root)
    first = project.head()
    r1 = promote(cfg, "summarize", "staging", force=True)
    assert r1.version == "v1" and r1.new_release
    project.commit({"README.md": "unrelated\n"}, "docs")
    project.commit({"prompts/summarize.yaml": prompt_yaml("Changed.")}, "change")
    project.commit({"prompts/summarize.yaml": prompt_yaml()}, "change back")
    r2 = promote(cfg, "summarize", "production", force=True)
    assert r2.version == "v1" and not r2.new_release
    assert prompt_at(cfg, "summarize", first).hash == prompt_at(cfg, "summarize", "v1").hash
    assert prompt_at(cfg, "summarize", "HEAD~2").hash != r2.hash


def test_versions_and_labels_resolve_through_the_lockfile(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.commit({"prompts/summarize.yaml": prompt_yaml("Version two.")}, "v2 content")
    promote(cfg, "summarize", "staging", force=True)
    project.write({"prompts/summarize.yaml": prompt_yaml("Work in progress.")})

    assert system_of(prompt_at(cfg, "summarize", "v1")) == "You summarize tickets."
    assert system_of(prompt_at(cfg, "summarize", "v2")) == "Version two."
    assert system_of(prompt_at(cfg, "summarize", "production")) == "You summarize tickets."
    assert system_of(prompt_at(cfg, "summarize", "label:staging")) == "Version two."
    rv = resolve_version(cfg, "summarize", "production")
    assert (rv.kind, rv.version, rv.label) == ("label", "v1", "production")
    # the annotated tag NAME/vN is a git ref too
    assert system_of(prompt_at(cfg, "summarize", "summarize/v2")) == "Version two."
    # the public API
    assert system_of(load_prompt("summarize", label="production", root=project.root)) == "You summarize tickets."
    assert system_of(load_prompt("summarize", version="v2", root=project.root)) == "Version two."


def test_bare_ref_applies_to_every_prompt_that_has_it(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    assert sorted(resolve_all(cfg, "v1")) == ["summarize"]
    promote(cfg, "classify", "production", force=True)
    assert sorted(resolve_all(cfg, "production")) == ["classify", "summarize"]
    assert sorted(resolve_all(cfg, "HEAD")) == ["classify", "summarize"]
    assert sorted(resolve_all(cfg, "WORKTREE")) == ["classify", "summarize"]
    with pytest.raises(RefError, match="no prompt has a release v7"):
        resolve_all(cfg, "v7")


def test_ambiguous_label_and_branch(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.branch("production")
    with pytest.raises(RefError, match="ambiguous") as info:
        prompt_at(cfg, "summarize", "production")
    assert "label:production" in str(info.value) and "git:production" in str(info.value)
    assert resolve_version(cfg, "summarize", "label:production").kind == "label"
    assert resolve_version(cfg, "summarize", "git:production").kind == "git"
    with pytest.raises(RefError, match="ambiguous"):
        resolve_all(cfg, "production")


def test_unknown_refs_list_candidates(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    with pytest.raises(RefError) as info:
        prompt_at(cfg, "summarize", "nope")
    text = str(info.value)
    assert "unknown ref 'nope'" in text and "production" in text and "main" in text and "v1" in text
    assert info.value.exit_code == 2
    with pytest.raises(RefError, match="no release v9"):
        prompt_at(cfg, "summarize", "v9")
    with pytest.raises(RefError, match="has no releases"):
        prompt_at(cfg, "classify", "v1")
    with pytest.raises(RefError, match="unknown label"):
        prompt_at(cfg, "summarize", "label:nope")
    with pytest.raises(InputError, match="unknown prompt 'ghost'"):
        prompt_at(cfg, "ghost", "HEAD")
    with pytest.raises(RefError, match="unknown ref"):
        prompt_at(cfg, "summarize", "--output=/tmp/x")


def test_not_a_git_repository(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "prompts").mkdir(parents=True)
    (root / "llmctl.yaml").write_text("default_models: [echo]\n")
    (root / "prompts/a.yaml").write_text(prompt_yaml(include=False))
    cfg = load_config(root)
    assert prompt_at(cfg, "a", "WORKTREE").name == "a"
    with pytest.raises(RefError, match="not a git repository") as info:
        prompt_at(cfg, "a", "main")
    assert info.value.exit_code == 2


def test_invalid_lockfile_names_the_line(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    path = project.root / "prompts/llmctl.lock"
    lines = path.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if line.strip() == "version: v1")
    lines[idx] = lines[idx].replace("v1", "v5")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        prompt_at(cfg, "summarize", "production")
    assert info.value.line == idx + 1
    assert info.value.file == "prompts/llmctl.lock"
    assert "not a release" in info.value.message


def test_source_at_reads_git_refs_only(project: GitRepo) -> None:
    """Where the runner reads a baseline's llmctl.yaml and evalsets: a git ref, by rev-parse like every ref."""
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.commit({"prompts/summarize.yaml": prompt_yaml("Two.")}, "two")
    project.write({"prompts/summarize.yaml": prompt_yaml("Dirty.")})
    assert source_at(cfg, None).label == "WORKTREE"
    assert b"Dirty." in (source_at(cfg, "WORKTREE").read("prompts/summarize.yaml") or b"")
    for ref in ("HEAD~1", "git:HEAD~1", "main~1"):
        assert b"You summarize" in (source_at(cfg, ref).read("prompts/summarize.yaml") or b""), ref
    assert b"Two." in (source_at(cfg, "git:main").read("prompts/summarize.yaml") or b"")
    for ref in ("production", "label:production", "v1", "nope", "--output=/tmp/x", ""):
        with pytest.raises(RefError, match="unknown git ref"):
            source_at(cfg, ref)
