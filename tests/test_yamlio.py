"""YAML loading with line numbers, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.yamlio import MAX_FILE_BYTES, LineDict, LineList, decode_text, load_yaml_file, load_yaml_text


def test_lines_of_keys_and_items() -> None:
    data = load_yaml_text("a: 1\nb:\n  - x\n  - y\nc: {d: 2}\n", "f.yaml")
    assert isinstance(data, LineDict) and isinstance(data["b"], LineList)
    assert data.line_of("a") == 1 and data.line_of("c") == 5 and data.line_of("missing") == 1
    assert data["b"].line_of(1) == 4 and data["b"].line_of(9) == data["b"].line


def test_keys_are_text_as_written() -> None:
    data = load_yaml_text("on: 1\nyes: 2\n1.0: 3\n~: 4\n2: 5\n", "f.yaml")
    assert list(data) == ["on", "yes", "1.0", "~", "2"]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'", 2),
        ("a:\n  b: 1\n  b: 2\n", "duplicate key 'b'", 3),
        ("a: [\n", "invalid YAML", 2),
        ("a:\n\tb: 1\n", "tabs are not allowed", 2),
        ("? [a]\n: b\n", "mapping keys must be scalars", 1),
        ("a: !!python/name:os.system\n", "could not determine a constructor", 1),
        ("a: &x [*x]\n", "invalid YAML", None),
    ],
)
def test_errors_name_file_and_line(text: str, message: str, line: int | None) -> None:
    with pytest.raises(InputError, match=message) as info:
        load_yaml_text(text, "f.yaml")
    assert info.value.file == "f.yaml"
    if line is not None:
        assert info.value.line == line


def test_line_offset_applies_to_errors() -> None:
    with pytest.raises(InputError) as info:
        load_yaml_text("a: 1\na: 2\n", "f.jinja", line_offset=1)
    assert info.value.line == 3


def test_alias_bomb_is_refused() -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    with pytest.raises(InputError, match="alias bomb"):
        load_yaml_text("\n".join(lines), "bomb.yaml")


def test_small_aliases_are_fine() -> None:
    data = load_yaml_text("base: &b {x: 1}\nuse: *b\nmerged:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert data["use"] == {"x": 1} and data["merged"] == {"x": 1, "y": 2}


def test_deep_nesting_is_an_input_error() -> None:
    with pytest.raises(InputError):
        load_yaml_text("[" * 300 + "]" * 300, "deep.yaml")


def test_decode_text() -> None:
    assert decode_text("\ufeffé".encode(), "f") == "é"
    with pytest.raises(InputError, match="binary file"):
        decode_text(b"a\x00b", "f")
    with pytest.raises(InputError, match="not valid UTF-8") as info:
        decode_text(b"ok\nok\n\xff", "f")
    assert info.value.line == 3
    with pytest.raises(InputError, match="too large"):
        decode_text(b"", "f", size=MAX_FILE_BYTES + 1)


def test_load_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("x: 1\n")
    assert load_yaml_file(tmp_path / "a.yaml") == {"x": 1}
    with pytest.raises(InputError, match="file not found"):
        load_yaml_file(tmp_path / "nope.yaml", display="nope.yaml")
    with pytest.raises(InputError, match="is a directory"):
        load_yaml_file(tmp_path)
    (tmp_path / "e.yaml").write_text("# only a comment\n")
    assert load_yaml_file(tmp_path / "e.yaml") is None
