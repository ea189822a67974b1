"""`llmctl init`: write a starter project from the packaged templates, never overwriting."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

# The distribution this project publishes on PyPI. The command stays `llmctl`; the PyPI name
# `llmctl` belongs to an unrelated project, so nothing we write may ever install that name.
DISTRIBUTION = "llmctl-ci"
REQUIREMENTS = "requirements-llmctl.txt"
GITIGNORE_LINE = ".llmctl/"


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


def requirements_text(version: str | None = None) -> str:
    """The pinned requirements file the scaffolded workflow installs from (and caches on)."""
    if version is None:
        from llmctl import __version__ as version
    return (
        "# Installed by .github/workflows/llmctl-eval.yml; written by `llmctl init`.\n"
        f"# {DISTRIBUTION} is llmctl's PyPI distribution (the PyPI name `llmctl` is another project).\n"
        "# Bump the pin deliberately, after reading the changelog.\n"
        f"{DISTRIBUTION}=={version}\n"
    )


def project_files() -> dict[str, bytes]:
    """Every file `init` writes, by path relative to the project folder."""
    files = _template_files()
    files[REQUIREMENTS] = requirements_text().encode()
    files[".gitignore"] = f"# llmctl's store and response cache (CI restores it)\n{GITIGNORE_LINE}\n".encode()
    return dict(sorted(files.items()))


@dataclass
class ScaffoldResult:
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # already there: left untouched
    updated: list[Path] = field(default_factory=list)  # .gitignore given the `.llmctl/` line


def _ignores_store(text: str) -> bool:
    return any(line.strip() in (".llmctl", ".llmctl/", "/.llmctl", "/.llmctl/") for line in text.splitlines())


def scaffold(directory: Path) -> ScaffoldResult:
    """Create the starter files missing under `directory`. Existing files are never overwritten;
    an existing `.gitignore` that does not ignore `.llmctl/` gets that line appended."""
    result = ScaffoldResult()
    for rel, data in project_files().items():
        path = directory / rel
        if path.exists():
            if rel == ".gitignore" and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                if not _ignores_store(text):
                    sep = "" if not text or text.endswith("\n") else "\n"
                    path.write_text(f"{text}{sep}{GITIGNORE_LINE}\n", encoding="utf-8")
                    result.updated.append(path)
                    continue
            result.kept.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        result.created.append(path)
    return result
