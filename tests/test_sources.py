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
        with pytest.raises(InputError, match="outside the project"):
            src.read(rel)
