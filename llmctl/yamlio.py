"""YAML loading that remembers where things are, so errors can name file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from llmctl.errors import InputError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_NODES = 1_000_000


class LineDict(dict[str, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise InputError("mapping keys must be scalars", line=key_node.start_mark.line + 1)
        # Keys are the text as written: `on:`, `1.0:` and `~:` stay "on", "1.0" and "~"
        # (YAML 1.1 would make them True, 1.0 and None, then "True", "1.0" and "None").
        key = str(key_node.value)
        if key in result:
            raise InputError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def decode_text(data: bytes, file: str | Path, *, size: int | None = None) -> str:
    """Decode a text file strictly: binary or non-UTF-8 content is an input error."""
    size = len(data) if size is None else size
    if size > MAX_FILE_BYTES:
        raise InputError(
            f"file is too large ({size // (1024 * 1024)} MiB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MiB)",
            file=file,
        )
    if b"\x00" in data:
        raise InputError("binary file (contains NUL bytes); expected UTF-8 text", file=file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("not valid UTF-8 text", file=file, line=line) from None


def _check_expansion(node: yaml.Node | None) -> None:
    """Refuse documents whose aliases expand to too many nodes (a "billion laughs" bomb)."""
    if node is None:
        return
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        known = sizes.get(id(n))
        if known is not None:
            return known
        sizes[id(n)] = 1  # a recursive alias counts once instead of looping
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(child) for child in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        if total > MAX_NODES:
            raise InputError(
                f"YAML aliases expand to more than {MAX_NODES:,} values (an alias bomb?)",
                line=n.start_mark.line + 1,
            )
        sizes[id(n)] = total
        return total

    size(node)


def _load(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        _check_expansion(node)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml_text(text: str, file: str | Path, *, line_offset: int = 0) -> Any:
    """Parse YAML text into LineDict/LineList; errors carry file and line."""
    try:
        return _load(text)
    except InputError as exc:
        exc.file = str(file)
        if exc.line is not None:
            exc.line += line_offset
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 + line_offset) if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None:
            lines = text.splitlines()
            if mark.line < len(lines) and "\t" in lines[mark.line]:
                problem += " (tabs are not allowed for indentation in YAML; use spaces)"
        raise InputError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=file) from None


def load_yaml_file(path: Path, display: str | None = None) -> Any:
    name = display or str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            decode_text(b"", name, size=path.stat().st_size)
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=name) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", file=name) from None
    return load_yaml_text(decode_text(data, name), name)


def plain(value: Any) -> Any:
    """LineDict/LineList to plain dict/list (for hashing, storing and JSON output)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
