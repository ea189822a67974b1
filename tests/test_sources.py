"""Where files are read from: the work tree (links may not lead out), and safe_join."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.sources import WorktreeSource, safe_join


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.jinja", "prompts/a.jinja"), ("./x/../a.jinja", "prompts/a.jinja"), ("x//y.jinja", "prompts/x/y.jinja")],
)
def test_safe_join(name: str, expected: str) -> None:
    assert safe_join("prompts", name) == expected


@pytest.mark.parametrize("name", ["", "/etc/passwd", "../x", "a/../../x", "C:/x", "a\\b", ".", "a/.."])
def test_safe_join_refuses(name: str) -> None:
    with pytest.raises(InputError):
        safe_join("prompts", name, file="f", line=3)


def test_worktree_reads_and_lists(tmp_path: Path) -> None:
    (tmp_path / "prompts/sub").mkdir(parents=True)
    (tmp_path / "prompts/sub/a.yaml").write_text("x")
    src = WorktreeSource(tmp_path)
    assert src.read("prompts/sub/a.yaml") == b"x"
    assert src.read("prompts/nope.yaml") is None
    assert src.read("prompts/sub") is None
    assert src.list_files("prompts") == ["prompts/sub/a.yaml"]
    assert src.list_files("nope") == []


def test_links_inside_are_fine_outside_are_refused(tmp_path: Path) -> None:
    project, outside = tmp_path / "p", tmp_path / "o"
    (project / "prompts").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.yaml").write_text("secret")
    (project / "prompts/real.yaml").write_text("real")
    (project / "prompts/alias.yaml").symlink_to(project / "prompts/real.yaml")
    (project / "prompts/leak.yaml").symlink_to(outside / "secret.yaml")
    (project / "prompts/dir").symlink_to(outside, target_is_directory=True)
    src = WorktreeSource(project)
    assert src.read("prompts/alias.yaml") == b"real"
    for rel in ("prompts/leak.yaml", "prompts/dir/secret.yaml"):
        with pytest.raises(InputError, match="outside prompts/"):
            src.read(rel, within="prompts")


def test_links_must_stay_inside_the_folder_read_from(tmp_path: Path) -> None:
    """Inside the project is not enough: a prompt read may only reach prompts/, never .git/."""
    (tmp_path / "prompts/partials").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git/config").write_text("AUTHORIZATION: basic c2VjcmV0")
    (tmp_path / ".env").write_text("KEY=1")
    (tmp_path / "prompts/partials/gc.jinja").symlink_to("../../.git/config")
    (tmp_path / "prompts/partials/env.jinja").symlink_to("../../.env")
    (tmp_path / "prompts/up").symlink_to("..", target_is_directory=True)
    (tmp_path / "prompts/partials/ok.jinja").write_text("ok")
    (tmp_path / "prompts/same").symlink_to("partials", target_is_directory=True)
    src = WorktreeSource(tmp_path)
    assert src.read("prompts/same/ok.jinja", within="prompts") == b"ok"
    for rel in ("prompts/partials/gc.jinja", "prompts/partials/env.jinja", "prompts/up/.env"):
        with pytest.raises(InputError, match="outside prompts/") as info:
            src.read(rel, within="prompts")
        assert info.value.file == rel
    # without a folder: anywhere in the project except .git/
    assert src.read("prompts/partials/env.jinja") == b"KEY=1"
    with pytest.raises(InputError, match="outside the project"):
        src.read("prompts/partials/gc.jinja")


def _git(cwd: Path, *args: str) -> None:
    import subprocess

    from tests.gitrepo import GIT_ENV

    env = {**__import__("os").environ, **GIT_ENV}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_git_ref_reads_follow_committed_links_only_inside(tmp_path: Path) -> None:
    """At a git ref a link is a blob holding its target: followed inside the folder, refused out of it."""
    import git

    from llmctl.sources import GitSource

    (tmp_path / "prompts/partials").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "prompts/partials/ok.jinja").write_text("ok")
    (tmp_path / "prompts/partials/alias.jinja").symlink_to("ok.jinja")
    (tmp_path / "prompts/same").symlink_to("partials", target_is_directory=True)
    (tmp_path / "prompts/partials/gc.jinja").symlink_to("../../.git/config")
    (tmp_path / "prompts/partials/up.jinja").symlink_to("../../secret.txt")
    (tmp_path / "prompts/root").symlink_to("..", target_is_directory=True)
    (tmp_path / "prompts/abs.jinja").symlink_to("/etc/passwd")
    (tmp_path / "prompts/loop1").symlink_to("loop2")
    (tmp_path / "prompts/loop2").symlink_to("loop1")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "links")
    repo = git.Repo(tmp_path)
    src = GitSource(repo, repo.head.commit, tmp_path)
    assert src.read("prompts/partials/ok.jinja", within="prompts") == b"ok"
    assert src.read("prompts/partials/alias.jinja", within="prompts") == b"ok"
    assert src.read("prompts/same/ok.jinja", within="prompts") == b"ok"
    assert src.read("prompts/nope.jinja", within="prompts") is None
    for rel in (
        "prompts/partials/gc.jinja",
        "prompts/partials/up.jinja",
        "prompts/root/secret.txt",
        "prompts/abs.jinja",
        "prompts/loop1",
    ):
        with pytest.raises(InputError, match="outside prompts/"):
            src.read(rel, within="prompts")
    assert src.read("prompts/partials/up.jinja") == b"top secret"  # inside the project is fine without a folder
