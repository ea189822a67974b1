"""Version resolution against real temporary git repositories."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gitrepo import GitRepo, git_env, make_project, prompt_yaml

from llmctl import lockfile as lf
from llmctl.config import load_config
from llmctl.errors import InputError, RefError
from llmctl.prompt import load_prompt
from llmctl.resolve import load_prompt_ref
from llmctl.versions import (
    build_bundle,
    promote,
    resolve_all,
    resolve_prompt_version,
    resolve_version,
    write_bundle,
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    repo = make_project(tmp_path / "proj")
    return repo


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

    assert system_of(resolve_prompt_version(cfg, "summarize", "HEAD~2")) == "You summarize tickets."
    assert system_of(resolve_prompt_version(cfg, "summarize", first)) == "You summarize tickets."
    assert system_of(resolve_prompt_version(cfg, "summarize", first[:10])) == "You summarize tickets."
    assert system_of(resolve_prompt_version(cfg, "summarize", "t-first")) == "You summarize tickets."
    assert system_of(resolve_prompt_version(cfg, "summarize", "feature")) == "Second."
    assert system_of(resolve_prompt_version(cfg, "summarize", "main")) == "Third."
    assert system_of(resolve_prompt_version(cfg, "summarize", "t-third")) == "Third."
    assert system_of(resolve_prompt_version(cfg, "summarize", "git:HEAD")) == "Third."
    assert system_of(resolve_prompt_version(cfg, "summarize", "WORKTREE")) == "Dirty."
    assert system_of(load_prompt_ref(cfg, "summarize@HEAD~1")) == "Second."
    # reading git never touched the work tree
    assert "Dirty." in (project.root / "prompts/summarize.yaml").read_text()


def test_includes_resolve_at_the_same_ref(project: GitRepo) -> None:
    project.commit({"prompts/partials/ticket.jinja": "NEW TICKET: {{ ticket }}\n"}, "partial")
    cfg = load_config(project.root)
    old = resolve_prompt_version(cfg, "summarize", "HEAD~1")
    new = resolve_prompt_version(cfg, "summarize", "HEAD")
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
    assert resolve_prompt_version(cfg, "summarize", first).hash == resolve_prompt_version(cfg, "summarize", "v1").hash
    assert resolve_prompt_version(cfg, "summarize", "HEAD~2").hash != r2.hash


def test_versions_and_labels_resolve_through_the_lockfile(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.commit({"prompts/summarize.yaml": prompt_yaml("Version two.")}, "v2 content")
    promote(cfg, "summarize", "staging", force=True)
    project.write({"prompts/summarize.yaml": prompt_yaml("Work in progress.")})

    assert system_of(resolve_prompt_version(cfg, "summarize", "v1")) == "You summarize tickets."
    assert system_of(resolve_prompt_version(cfg, "summarize", "v2")) == "Version two."
    assert system_of(resolve_prompt_version(cfg, "summarize", "production")) == "You summarize tickets."
    assert system_of(resolve_prompt_version(cfg, "summarize", "label:staging")) == "Version two."
    rv = resolve_version(cfg, "summarize", "production")
    assert (rv.kind, rv.version, rv.label) == ("label", "v1", "production")
    # the annotated tag NAME/vN is a git ref too
    assert system_of(resolve_prompt_version(cfg, "summarize", "summarize/v2")) == "Version two."
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
        resolve_prompt_version(cfg, "summarize", "production")
    assert "label:production" in str(info.value) and "git:production" in str(info.value)
    assert resolve_version(cfg, "summarize", "label:production").kind == "label"
    assert resolve_version(cfg, "summarize", "git:production").kind == "git"
    with pytest.raises(RefError, match="ambiguous"):
        resolve_all(cfg, "production")


def test_unknown_refs_list_candidates(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    with pytest.raises(RefError) as info:
        resolve_prompt_version(cfg, "summarize", "nope")
    text = str(info.value)
    assert "unknown ref 'nope'" in text and "production" in text and "main" in text and "v1" in text
    assert info.value.exit_code == 2
    with pytest.raises(RefError, match="no release v9"):
        resolve_prompt_version(cfg, "summarize", "v9")
    with pytest.raises(RefError, match="has no releases"):
        resolve_prompt_version(cfg, "classify", "v1")
    with pytest.raises(RefError, match="unknown label"):
        resolve_prompt_version(cfg, "summarize", "label:nope")
    with pytest.raises(InputError, match="unknown prompt 'ghost'"):
        resolve_prompt_version(cfg, "ghost", "HEAD")
    with pytest.raises(RefError, match="unknown ref"):
        resolve_prompt_version(cfg, "summarize", "--output=/tmp/x")


def test_not_a_git_repository(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "prompts").mkdir(parents=True)
    (root / "llmctl.yaml").write_text("default_models: [echo]\n")
    (root / "prompts/a.yaml").write_text(prompt_yaml(include=False))
    cfg = load_config(root)
    assert resolve_prompt_version(cfg, "a", "WORKTREE").name == "a"
    with pytest.raises(RefError, match="not a git repository") as info:
        resolve_prompt_version(cfg, "a", "main")
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
        resolve_prompt_version(cfg, "summarize", "production")
    assert info.value.line == idx + 1
    assert info.value.file == "prompts/llmctl.lock"
    assert "not a release" in info.value.message


def test_bundle_loads_without_git(project: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.commit({"prompts/partials/ticket.jinja": "T2: {{ ticket }}\n"}, "partial")
    promote(cfg, "summarize", "staging", force=True)
    data = build_bundle(cfg)
    elsewhere = tmp_path / "deploy"
    elsewhere.mkdir()
    bundle = elsewhere / "bundle.json"
    write_bundle(data, bundle)
    monkeypatch.chdir(elsewhere)  # no git, no prompts/
    prod = load_prompt("summarize", label="production", bundle=bundle)
    assert prod.render({"ticket": "hi"})[1]["content"].startswith("Ticket: hi")
    stage = load_prompt("summarize", label="staging", bundle=str(bundle))
    assert stage.render({"ticket": "hi"})[1]["content"].startswith("T2: hi")
    assert load_prompt("summarize", version="v1", bundle=bundle).hash == prod.hash
    with pytest.raises(RefError, match="no label"):
        load_prompt("summarize", label="nope", bundle=bundle)
    # tampered content is refused
    raw = json.loads(bundle.read_text())
    files = raw["prompts"]["summarize"]["releases"]["v1"]["files"]
    files["prompts/partials/ticket.jinja"] = "EVIL {{ ticket }}\n"
    bundle.write_text(json.dumps(raw))
    with pytest.raises(InputError, match="does not match"):
        load_prompt("summarize", label="production", bundle=bundle)


def test_bundle_by_label(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    project.commit({"prompts/summarize.yaml": prompt_yaml("Two.")}, "two")
    promote(cfg, "summarize", "staging", force=True)
    data = build_bundle(cfg, ["production"])
    assert list(data["prompts"]["summarize"]["releases"]) == ["v1"]
    assert data["prompts"]["summarize"]["labels"] == {"production": "v1"}


def test_lockfile_round_trip_and_stable_order(project: GitRepo) -> None:
    cfg = load_config(project.root)
    promote(cfg, "summarize", "production", force=True)
    promote(cfg, "classify", "production", force=True)
    path = project.root / "prompts/llmctl.lock"
    text = path.read_text()
    lock = lf.load(path)
    assert lf.dumps(lock) == text
    assert text.index("classify:") < text.index("summarize:")
