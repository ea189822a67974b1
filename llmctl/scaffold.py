"""`llmctl init`: write a starter project from the packaged templates, never overwriting."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from llmctl.errors import InputError
from llmctl.install import DISTRIBUTION, Pin

REQUIREMENTS = "requirements-llmctl.txt"
LOCK = "requirements-llmctl.lock"
GITIGNORE_LINE = ".llmctl/"
# the scaffolded workflow's `python-version` (tests/test_scaffold.py checks they agree): the lock
# is resolved for it, on every platform (`--universal`)
LOCK_PYTHON = "3.12"
# Releases that must never be resolved into a lock, whatever the llmctl-ci being locked allows:
# litellm 1.82.7 and 1.82.8 shipped a credential stealer (BerriAI/litellm#24512, PR #24537), a
# `.pth` file that runs at interpreter start-up. pyproject.toml excludes them too (a test checks).
COMPROMISED: dict[str, tuple[str, ...]] = {"litellm": ("1.82.7", "1.82.8")}
# what building llmctl from a git or folder requirement needs (pyproject's build-system.requires):
# locked with hashes too, and the build runs without isolation so nothing unhashed is fetched
BUILD_REQUIREMENT = "setuptools>=77"


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


def requirements_text(pin: Pin | None = None) -> str:
    """The requirements file the scaffolded workflow installs llmctl from (and locks)."""
    if pin is None:
        from llmctl.install import current_pin

        pin = current_pin()
    lines = [
        "# llmctl for .github/workflows/llmctl-eval.yml; written by `llmctl init`.",
        f"# {DISTRIBUTION} is llmctl's PyPI distribution (the PyPI name `llmctl` is another project).",
        f"# After editing it, refresh {LOCK} (what CI installs, hash-checked): llmctl init --lock",
        *(f"# {c}" for c in pin.comments),
        pin.requirement,
    ]
    return "\n".join(lines) + "\n"


def requirement_line(text: str) -> int | None:
    """The 1-based line of the requirement in a requirements file's text."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return None


def project_files(pin: Pin | None = None) -> dict[str, bytes]:
    """Every file `init` writes, by path relative to the project folder (the lock aside: write_lock)."""
    from llmctl.evaluators._judge import DEFAULT_JUDGE_PROMPT, PROJECT_JUDGE_PROMPT, packaged_prompt

    files = _template_files()
    files[REQUIREMENTS] = requirements_text(pin).encode()
    files[".gitignore"] = f"# llmctl's store and response cache (CI restores it)\n{GITIGNORE_LINE}\n".encode()
    # the judge prompt the scaffolded `judge` evaluator loads: a copy of the built-in one, to edit
    files[f"prompts/{PROJECT_JUDGE_PROMPT}.yaml"] = packaged_prompt(DEFAULT_JUDGE_PROMPT).encode()
    return dict(sorted(files.items()))


@dataclass
class ScaffoldResult:
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # already there: left untouched
    updated: list[Path] = field(default_factory=list)  # .gitignore given the `.llmctl/` line


def _ignores_store(text: str) -> bool:
    return any(line.strip() in (".llmctl", ".llmctl/", "/.llmctl", "/.llmctl/") for line in text.splitlines())


def scaffold(directory: Path, pin: Pin | None = None) -> ScaffoldResult:
    """Create the starter files missing under `directory`. Existing files are never overwritten;
    an existing `.gitignore` that does not ignore `.llmctl/` gets that line appended. `pin` is
    the requirement for llmctl (default: how the running llmctl was installed)."""
    result = ScaffoldResult()
    for rel, data in project_files(pin).items():
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


# -- the hash-locked requirements ------------------------------------------------------------


@dataclass
class LockResult:
    written: bool
    message: str  # what was written, or why not and what to run


def find_uv() -> str | None:
    """The uv binary: on PATH, beside this Python (a venv's bin/), or from the `uv` package."""
    import shutil
    import sys

    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return str(find_uv_bin())
    except Exception:
        return None


def _requirement_lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def needs_build(text: str) -> bool:
    """Whether a requirements text installs llmctl from a VCS URL or a folder: built at install time
    (its lock then holds its build backend, not llmctl itself: a commit has no archive hash)."""
    for line in _requirement_lines(text):
        _, at, url = line.partition(" @ ")
        if not at:
            continue
        url = url.split(" --hash", 1)[0].strip()
        if "+" in url.split("://", 1)[0] or not url.split("#", 1)[0].endswith((".whl", ".tar.gz", ".zip")):
            return True
    return False


def lock_versions(text: str) -> dict[str, str]:
    """`name==version` pins of a lock file, by canonical name."""
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in text.splitlines():
        head = line.split(";", 1)[0].split("\\", 1)[0].strip()
        if "==" in head and not head.startswith(("#", "-")):
            name, _, version = head.partition("==")
            pins[canonicalize_name(name.split("[", 1)[0].strip())] = version.strip()
    return pins


def write_lock(directory: Path, *, timeout: float = 600) -> LockResult:
    """Write `requirements-llmctl.lock`: requirements-llmctl.txt resolved with `uv pip compile
    --generate-hashes` for the workflow's Python on every platform, the compromised releases
    excluded. Needs the package index (uv's settings apply: UV_INDEX_URL, UV_OFFLINE...).

    Raises InputError when requirements-llmctl.txt is missing; an index or uv failure is a
    LockResult that says so and what to run."""
    import subprocess
    import tempfile

    source = directory / REQUIREMENTS
    if not source.is_file():
        raise InputError(f"{REQUIREMENTS} not found in {directory}: run `llmctl init` first", file=str(source))
    refresh = f"run `llmctl init --lock` when the package index is reachable to write {LOCK}"
    uv = find_uv()
    if uv is None:
        return LockResult(
            False, f"{LOCK} not written: uv not found (pip install uv); then {refresh.removeprefix('run ')}"
        )
    text = source.read_text(encoding="utf-8")
    build = needs_build(text)
    with tempfile.TemporaryDirectory(prefix="llmctl-lock-") as tmp:
        constraints = Path(tmp) / "constraints.txt"
        constraints.write_text(
            "".join(f"{name}{','.join('!=' + v for v in bad)}\n" for name, bad in COMPROMISED.items())
        )
        out = Path(tmp) / LOCK
        cmd = [
            uv, "pip", "compile", "--quiet", "--generate-hashes", "--universal",
            "--python-version", LOCK_PYTHON, "--no-annotate", "--no-header",
            "--constraint", str(constraints), REQUIREMENTS, "--output-file", str(out),
        ]  # fmt: skip
        if build:
            extra = Path(tmp) / "build.txt"
            extra.write_text(BUILD_REQUIREMENT + "\n")
            cmd[-2:-2] = [str(extra)]
            cmd += ["--no-emit-package", DISTRIBUTION]
        try:
            done = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return LockResult(False, f"{LOCK} not written: uv pip compile took over {timeout:g} s; {refresh}")
        except OSError as exc:
            return LockResult(False, f"{LOCK} not written: could not run uv ({exc}); {refresh}")
        if done.returncode != 0 or not out.is_file():
            lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            why = " ".join(lines[-3:])[:500] or f"uv exited {done.returncode}"
            return LockResult(False, f"{LOCK} not written: uv pip compile failed: {why}; {refresh}")
        body = out.read_text(encoding="utf-8")
    pins = lock_versions(body)
    for name, bad in COMPROMISED.items():
        if pins.get(name) in bad:  # the constraint makes this unreachable; never write one if it is not
            return LockResult(False, f"{LOCK} not written: it resolved {name}=={pins[name]}, a compromised release")
    header = (
        f"# Hash-locked requirements for .github/workflows/llmctl-eval.yml, from {REQUIREMENTS}.\n"
        f"# Written by `llmctl init`; refresh with `llmctl init --lock` (uv pip compile --generate-hashes,\n"
        f"# Python {LOCK_PYTHON}, all platforms). CI installs it with --require-hashes.\n"
    )
    if build:
        header += (
            f"# {DISTRIBUTION} itself is pinned by commit in {REQUIREMENTS} (a commit has no archive hash);\n"
            f"# the workflow builds it with --no-deps --no-build-isolation from the backend locked here.\n"
        )
    target = directory / LOCK
    partial = target.with_name(target.name + ".partial")
    partial.write_text(header + body, encoding="utf-8")
    partial.replace(target)
    return LockResult(True, f"wrote {target} ({len(pins)} pinned, hash-checked packages)")
