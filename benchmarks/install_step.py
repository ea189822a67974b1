"""The scaffolded workflow's install step with a warm uv cache: its commands, verbatim from the
template, in a fresh venv each run.

    python benchmarks/install_step.py --python /path/to/python3.12 [--runs 3] [--requirement SPEC]

What it does: snapshots this checkout (tracked and untracked files, not ignored) into a bare git
repository; `llmctl init --no-lock --requirement "llmctl-ci @ git+file://...@<commit>"` in a
new project (the requirement a git install writes: llmctl-ci is not on PyPI yet); `llmctl init
--lock` (timed: uv pip compile --generate-hashes against the package index); one untimed run of
the install step to warm uv's cache (as setup-uv's restored cache is on a runner); then `--runs`
timed runs, each in a fresh venv of `--python` (the lock is resolved for Python 3.12, the
workflow's). The template's `--system` becomes `--python <venv>` (a runner's Python is the
system one; here it is a venv). Prints one JSON object: lock seconds, each run's seconds, median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "llmctl" / "templates" / "project" / ".github" / "workflows" / "llmctl-eval.yml"
BIN = Path(sys.executable).parent


def install_commands() -> list[str]:
    steps = yaml.safe_load(TEMPLATE.read_text())["jobs"]["eval"]["steps"]
    step = next(s for s in steps if "uv pip install" in s.get("run", ""))
    return [line for line in step["run"].splitlines() if line.strip()]


def sh(cmd: list[str] | str, **kw) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    if done.returncode != 0:
        sys.exit(f"failed: {cmd}\n{done.stdout}{done.stderr}")
    return done


def snapshot(dest: Path) -> tuple[Path, str]:
    work = dest / "work"
    files = sh(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout.split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    sh(["git", "init", "-q", str(work)])
    sh(["git", *ident, "-C", str(work), "add", "-A"])
    sh(["git", *ident, "-C", str(work), "commit", "-q", "-m", "snapshot"])
    bare = dest / "llmctl.git"
    sh(["git", "clone", "-q", "--bare", str(work), str(bare)])
    return bare, sh(["git", "-C", str(bare), "rev-parse", "HEAD"]).stdout.strip()


def run_step(project: Path, venv: Path, python: str, env: dict[str, str]) -> float:
    shutil.rmtree(venv, ignore_errors=True)
    sh([str(BIN / "uv"), "venv", "-q", str(venv), "--python", python], env=env)
    started = time.perf_counter()
    for line in install_commands():
        sh(line.replace("--system", f"--python {venv}/bin/python"), shell=True, cwd=project, env=env)
    took = time.perf_counter() - started
    sh([str(venv / "bin" / "llmctl"), "--version"], env=env)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--python", required=True, help="the interpreter of the fresh venvs (3.12, as the workflow)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requirement", help="llmctl-ci requirement (default: git+file of a snapshot)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory(prefix="llmctl-install-bench-") as tmp:
        base = Path(tmp)
        if args.requirement:
            requirement = args.requirement
        else:
            bare, commit = snapshot(base / "snap")
            requirement = f"llmctl-ci @ git+{bare.as_uri()}@{commit}"
        project = base / "proj"
        sh(["git", "init", "-q", str(project)])
        sh([str(BIN / "llmctl"), "init", "--no-lock", "--requirement", requirement], cwd=project, env=env)
        started = time.perf_counter()
        sh([str(BIN / "llmctl"), "init", "--lock"], cwd=project, env=env)
        lock_s = time.perf_counter() - started
        venv = base / "venv"
        warm = run_step(project, venv, args.python, env)
        runs = [run_step(project, venv, args.python, env) for _ in range(args.runs)]
        pins = sum(1 for ln in (project / "requirements-llmctl.lock").read_text().splitlines() if "==" in ln)
    print(
        json.dumps(
            {
                "commands": install_commands(),
                "requirement": requirement.split("@ ")[0] + "@ git+file://...",
                "locked_packages": pins,
                "lock_s": round(lock_s, 1),
                "warming_run_s": round(warm, 1),
                "runs_s": [round(r, 1) for r in runs],
                "median_s": round(statistics.median(runs), 1),
                "load_avg": os.getloadavg()[0],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
