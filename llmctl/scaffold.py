"""`llmctl init`: write a starter project from the packaged templates."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from llmctl.errors import InputError


def _template_files() -> dict[str, bytes]:
    root = resources.files("llmctl") / "templates" / "project"
    files: dict[str, bytes] = {}
    stack = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                stack.append((child, rel + "/"))
            elif child.name != "__pycache__":
                files[rel] = child.read_bytes()
    return files


def scaffold(directory: Path) -> list[Path]:
    """Create the starter files under `directory`; refuse if any already exists."""
    files = _template_files()
    targets = {directory / rel: data for rel, data in sorted(files.items())}
    existing = [p for p in targets if p.exists()]
    if existing:
        raise InputError(
            "refusing to overwrite existing files: " + ", ".join(str(p) for p in existing),
            hint="run llmctl init in an empty folder, or move these files away",
        )
    created = []
    for path, data in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        created.append(path)
    return created
