"""`llmctl monitor` false-alarm rate and power, measured through the real CLI.

Each trial writes 35 days of OpenAI-exchange traces for 2 prompts x 2 models (4 groups, `--per-day`
calls each per day; latency log-normal(6.0, 0.35) ms, 2% errors, completion tokens uniform 30..90 and
priced per token), in a fresh project with the default `monitor:` settings, then runs

    llmctl traces import traffic.jsonl && llmctl monitor --json

as child processes and records the exit code (0: no alarm, 1: alarm) and which checks alarmed. In the
last 7 days (the default window) of one group, the setting changes:

  a  no change                               (target: <= 5% of trials alarm)
  b  latency x1.5 on every call              (power for a +50% p95)
  c  error rate 2% -> 8%                     (power for +6 points, past the 2-point threshold)
  d  completion tokens x1.6 at a higher rate (cost per 1k tokens +35%)

Rates are printed with exact (Clopper-Pearson, SciPy `binomtest`) 95% intervals, and appended to
benchmarks/RESULTS.md with `--write` (section "Monitor: false alarms and power").

    python benchmarks/monitor_sim.py --trials 200 --jobs 2 --write
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section

ROOT = Path(__file__).resolve().parents[1]
LLMCTL = str(Path(sys.executable).with_name("llmctl"))
SETTINGS = {
    "a": {"label": "no change", "target": "<= 5% alarm"},
    "b": {"label": "latency x1.5 (one group)", "latency": 1.5},
    "c": {"label": "error rate 2% -> 8% (one group)", "errors": 0.08},
    "d": {"label": "cost per 1k tokens +35% (one group)", "tokens": 1.6},
}
GROUPS = [("summarize", "gpt-4o-mini"), ("summarize", "gpt-4o"), ("triage", "gpt-4o-mini"), ("triage", "gpt-4o")]


def traffic(path: Path, setting: str, seed: int, per_day: int) -> None:
    rng = random.Random(seed)
    spec = SETTINGS[setting]
    start = datetime(2026, 10, 1)
    days = 35
    with path.open("w", encoding="utf-8") as fh:
        i = 0
        for day in range(days):
            for g, (prompt, model) in enumerate(GROUPS):
                drifted = g == 0 and day >= days - 7
                for k in range(per_day):
                    ts = start + timedelta(days=day, seconds=(k * 86400) // per_day + g)
                    lat = rng.lognormvariate(6.0, 0.35) * (spec.get("latency", 1.0) if drifted else 1.0)
                    err = rng.random() < (spec.get("errors", 0.02) if drifted else 0.02)
                    ctoks = int(rng.randint(30, 90) * (spec.get("tokens", 1.0) if drifted else 1.0))
                    cost = (100 * 0.15 + ctoks * 0.6) / 1e6
                    doc: dict[str, Any] = {
                        "request": {"model": model, "messages": [{"role": "user", "content": f"case {i}"}]},
                        "response": {"error": {"message": "503"}}
                        if err
                        else {
                            "id": f"c{i}",
                            "model": model,
                            "choices": [{"message": {"role": "assistant", "content": "ok"}}],
                            "usage": {"prompt_tokens": 100, "completion_tokens": ctoks},
                        },
                        "cost_usd": None if err else cost,
                        "latency_ms": lat,
                        "timestamp": ts.isoformat() + "Z",
                        "metadata": {"llmctl_prompt": prompt},
                    }
                    fh.write(json.dumps(doc) + "\n")
                    i += 1


def _in_process(argv: list[str], cwd: Path) -> tuple[int, str]:
    """The same CLI (llmctl.cli.main's Typer app, error handling and exit codes), without a new interpreter."""
    import contextlib
    import io

    from llmctl.cli import _common
    from llmctl.cli.main import app

    out = io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out):
            code = _common.invoke(app, argv)
    finally:
        os.chdir(old)
    return code, out.getvalue()


def trial(setting: str, seed: int, per_day: int, in_process: bool = False) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "LLMCTL_DB")}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "llmctl-monitor-sim-pycache")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "llmctl.yaml").write_text("store: s.duckdb\n", encoding="utf-8")
        traffic(root / "traffic.jsonl", setting, seed, per_day)
        if in_process:
            code, _ = _in_process(["traces", "import", "traffic.jsonl"], root)
            if code != 0:
                raise RuntimeError(f"import failed: {code}")
            code, stdout = _in_process(["monitor", "--json"], root)
            doc = json.loads(stdout)
            alarms = sorted({c["metric"] for g in doc["groups"] for c in g["checks"] if c["alarm"]})
            return {"code": code, "alarms": alarms, "tests": doc["tests"]}
        imp = subprocess.run(
            [LLMCTL, "traces", "import", "traffic.jsonl"], cwd=root, env=env, capture_output=True, text=True
        )
        if imp.returncode != 0:
            raise RuntimeError(imp.stderr)
        mon = subprocess.run([LLMCTL, "monitor", "--json"], cwd=root, env=env, capture_output=True, text=True)
        if mon.returncode not in (0, 1):
            raise RuntimeError(mon.stderr)
        doc = json.loads(mon.stdout)
        alarms = sorted({c["metric"] for g in doc["groups"] for c in g["checks"] if c["alarm"]})
        return {"code": mon.returncode, "alarms": alarms, "tests": doc["tests"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--settings", default="abcd")
    ap.add_argument("--per-day", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument(
        "--budget-s", type=float, default=0, help="per setting: stop starting trials after this many seconds (0: none)"
    )
    ap.add_argument("--write", action="store_true")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="run the CLI's commands in this process (same Typer app and code path, no interpreter start; --jobs 1)",
    )
    args = ap.parse_args()
    if args.in_process:
        args.jobs = 1
    started = time.monotonic()
    lines = []
    for setting in args.settings:
        results = []
        setting_start = time.monotonic()
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = []
            for t in range(args.trials):
                futures.append(
                    pool.submit(
                        lambda t=t, setting=setting, setting_start=setting_start: (
                            None
                            if args.budget_s and time.monotonic() - setting_start > args.budget_s
                            else trial(setting, args.seed + 1000 * ord(setting) + t, args.per_day, args.in_process)
                        )
                    )
                )
            results = [r for r in (f.result() for f in futures) if r is not None]
        n = len(results)
        k = sum(r["code"] == 1 for r in results)
        ci = binomtest(k, n).proportion_ci(0.95, method="exact") if n else None
        which: dict[str, int] = {}
        for r in results:
            for m in r["alarms"]:
                which[m] = which.get(m, 0) + 1
        tests = results[0]["tests"] if results else 0
        line = (
            f"| {setting} | {SETTINGS[setting]['label']} | {n} | {k} | {k / n:.1%} | "
            f"{ci.low:.1%} - {ci.high:.1%} | {tests} | {', '.join(f'{m} {c}' for m, c in sorted(which.items())) or '-'} |"
            if n
            else f"| {setting} | {SETTINGS[setting]['label']} | 0 | - | - | - | - | - |"
        )
        print(line, flush=True)
        lines.append(line)
    elapsed = time.monotonic() - started
    table = "\n".join(
        [
            "| setting | traffic | trials | alarmed | rate | 95% CI (exact) | tests per run | alarms by metric |",
            "|---|---|---|---|---|---|---|---|",
            *lines,
        ]
    )
    print(f"{elapsed:.0f}s, load average {os.getloadavg()[0]:.1f}")
    if args.write:
        head = "## Monitor: false alarms and power"
        write_section(
            f"{head}\n\n`python benchmarks/monitor_sim.py --trials {args.trials} --settings {args.settings} "
            f"--per-day {args.per_day} --jobs {args.jobs}{' --in-process' if args.in_process else ''}"
            f"{f' --budget-s {args.budget_s:g}' if args.budget_s else ''}` ({time.strftime('%Y-%m-%d')}, {elapsed:.0f}s, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}). 4 groups (2 prompts x 2 models), "
            f"{args.per_day} calls per group per day, default `monitor:` thresholds, 7d window against 28d.\n\n{table}\n"
        )


if __name__ == "__main__":
    main()
