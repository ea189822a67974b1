"""Gate false-alarm rate and power, measured through the real CLI.

Each trial is a fresh git repository with two commits of one prompt (HEAD~1: "version A",
HEAD: "version B"), an evalset of N cases, and the default gate of `llmctl init`
(quality, cost and latency checks all on). The trial runs

    llmctl eval --baseline HEAD~1 --no-cache

as a child process against the local OpenAI-compatible test server, and records its exit
code (0 pass, 1 gate failed) and which checks failed. The server simulates what makes
no-change PRs noisy:

- per-case difficulty: case i passes with probability p_i ~ Beta(4, 1) (mean 0.8; `--difficulty A,B`), drawn
  per trial; every call is a fresh Bernoulli draw (sampled completions, temperature > 0);
- completion length noise: the answer is padded with a log-normal number of words
  (coefficient of variation `--length-cv`), and the alias has a per-token price, so cost
  per case varies from call to call;
- latency jitter: 100 ms x uniform(0.2, 1.8) plus a log-normal tail (sigma 0.5, median 20 ms).

Settings (`--settings`, default all):
  a  no change                         (target: <= 5% of trials fail)
  b  10-point quality drop, n=200      (target: >= 80% fail)
  c  +50% latency on every call        (target: >= 95% fail)
  d  +30% completion length (cost)     (target: >= 95% fail)
  e  n=20 with a 30-point drop         (reported: what a small suite sees)

Rates are printed with exact (Clopper-Pearson, SciPy `binomtest`) 95% intervals, and
written to benchmarks/RESULTS.md with `--write` (replacing the section of the same settings).

    python benchmarks/gate_sim.py --trials 200 --write
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from scipy.stats import binomtest

from llmctl.testing.server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _results import write_section  # noqa: E402

SETTINGS: dict[str, dict[str, Any]] = {
    "a": {"label": "no change, default gate", "n": 200, "drop": 0.0, "latency": 0.0, "cost": 0.0, "target": "<= 5%"},
    "b": {"label": "10-point quality drop", "n": 200, "drop": 0.10, "latency": 0.0, "cost": 0.0, "target": ">= 80%"},
    "c": {"label": "+50% latency", "n": 200, "drop": 0.0, "latency": 0.50, "cost": 0.0, "target": ">= 95%"},
    "d": {
        "label": "+30% cost (completion length)",
        "n": 200,
        "drop": 0.0,
        "latency": 0.0,
        "cost": 0.30,
        "target": ">= 95%",
    },
    "e": {"label": "n=20, 30-point drop", "n": 20, "drop": 0.30, "latency": 0.0, "cost": 0.0, "target": "reported"},
}


class World:
    """What one server answers: set per trial, read by the server's hooks (one trial at a time
    per server; `--jobs` servers run trials side by side)."""

    def __init__(self, length_cv: float, difficulty: tuple[float, float] = (4.0, 1.0)) -> None:
        self.length_cv = length_cv
        self.difficulty = difficulty
        self.setting: dict[str, Any] = SETTINGS["a"]
        self.p: list[float] = []
        self.rng = random.Random(0)
        self.lock = threading.Lock()

    def start(self, setting: dict[str, Any], seed: int) -> None:
        rng = random.Random(seed)
        self.setting = setting
        self.p = [rng.betavariate(*self.difficulty) for _ in range(setting["n"])]
        self.rng = random.Random(seed + 1)

    @staticmethod
    def _side_and_case(messages: list[dict[str, Any]]) -> tuple[bool, int]:
        system = str(messages[0].get("content", "")) if messages else ""
        user = str(messages[-1].get("content", "")) if messages else ""
        match = re.search(r"case (\d+)", user)
        return "version B" in system, int(match.group(1)) if match else 0

    def answer(self, messages: list[dict[str, Any]]) -> str:
        candidate, case = self._side_and_case(messages)
        s = self.setting
        p = self.p[case] if case < len(self.p) else 0.8
        if candidate and s["drop"]:
            p = max(0.0, p * (1.0 - s["drop"] / 0.8))  # mean pass rate 0.8 -> 0.8 - drop
        sigma = math.sqrt(math.log(1.0 + self.length_cv**2))
        with self.lock:
            ok = self.rng.random() < p
            words = max(1, round(40 * self.rng.lognormvariate(-sigma * sigma / 2, sigma)))
        if candidate and s["cost"]:
            words = round(words * (1.0 + s["cost"]))
        return ("PASS " if ok else "FAIL ") + " ".join(["word"] * words)

    def latency(self, messages: list[dict[str, Any]]) -> float:
        candidate, _case = self._side_and_case(messages)
        with self.lock:
            ms = 100.0 * self.rng.uniform(0.2, 1.8) + 20.0 * self.rng.lognormvariate(0.0, 0.5)
        if candidate and self.setting["latency"]:
            ms *= 1.0 + self.setting["latency"]
        return ms


def _git(root: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "sim",
        "GIT_AUTHOR_EMAIL": "sim@example.com",
        "GIT_COMMITTER_NAME": "sim",
        "GIT_COMMITTER_EMAIL": "sim@example.com",
    }
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _prompt(version: str) -> str:
    return yaml.safe_dump(
        {
            "inputs": {"question": {"type": "string"}},
            "messages": [
                {"role": "system", "content": f"You answer questions ({version})."},
                {"role": "user", "content": "{{ question }}"},
            ],
        }
    )


def _trial(base_url: str, setting: dict[str, Any], tmp: Path) -> tuple[int, list[str], str]:
    """One simulated PR; returns (exit code, failed check names, stderr tail)."""
    root = tmp / "repo"
    (root / "prompts").mkdir(parents=True)
    (root / "evalsets").mkdir()
    config = {
        "store": ".llmctl/llmctl.duckdb",
        "concurrency": 50,
        "retries": 1,
        "models": {
            "sim": {
                "model": "openai/sim-model",
                "api_base": base_url,
                "api_key_env": "SIM_API_KEY",
                "price": {"input_per_1k": 0.001, "output_per_1k": 0.002},
                "timeout": 10,
            }
        },
        # the default gate of `llmctl init`: quality, cost and latency all checked
        "gate": {
            "confidence": 0.95,
            "quality": {"max_drop": 0.05},
            "cost": {"max_increase": 0.10},
            "latency": {"p95_max_increase": 0.20},
        },
    }
    (root / "llmctl.yaml").write_text(yaml.safe_dump(config))
    evalset = {
        "prompt": "qa",
        "models": ["sim"],
        "evaluators": [{"type": "icontains", "value": "PASS"}],
        "cases": [{"id": f"c{i:03d}", "vars": {"question": f"case {i}"}} for i in range(setting["n"])],
    }
    (root / "evalsets" / "qa.yaml").write_text(yaml.safe_dump(evalset))
    (root / ".gitignore").write_text(".llmctl/\n")
    (root / "prompts" / "qa.yaml").write_text(_prompt("version A"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "A")
    (root / "prompts" / "qa.yaml").write_text(_prompt("version B"))
    _git(root, "commit", "-qam", "B")
    env = {**os.environ, "SIM_API_KEY": "sk-sim", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "llmctl.cli.main", "eval", "--baseline", "HEAD~1", "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    failed: list[str] = []
    if proc.returncode == 1:
        show = subprocess.run(
            [sys.executable, "-m", "llmctl.cli.main", "runs", "show", "latest", "--json"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            data = json.loads(show.stdout)
            runs = data if isinstance(data, list) else [data]
            for run in runs:
                for group in ((run.get("summary") or {}).get("verdict") or {}).get("groups", []):
                    failed += [str(m.get("metric")) for m in group.get("metrics", []) if not m.get("passed")]
        except ValueError:
            failed.append("?")
    return proc.returncode, failed, proc.stderr[-400:]


def _rate(k: int, n: int) -> str:
    if n == 0:
        return "—"
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return f"{100 * k / n:.1f}% [{100 * ci.low:.1f}, {100 * ci.high:.1f}]"


def _run_setting(
    letter: str, args: argparse.Namespace, pool: queue.Queue[tuple[World, FakeOpenAIServer]]
) -> dict[str, Any]:
    """All trials of one setting, `--jobs` at a time; each worker borrows its own server."""
    setting = SETTINGS[letter]

    def one(t: int) -> tuple[int, list[str], str]:
        world, srv = pool.get()
        try:
            world.start(setting, seed=args.seed * 1_000_003 + ord(letter) * 10_007 + t)
            with tempfile.TemporaryDirectory() as tmp:
                return _trial(srv.base_url, setting, Path(tmp))
        finally:
            pool.put((world, srv))

    fails, errors = 0, 0
    causes: Counter[str] = Counter()
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for t, (code, failed, err) in enumerate(ex.map(one, range(args.trials))):
            if code == 1:
                fails += 1
                causes.update(set(failed))
            elif code != 0:
                errors += 1
                print(f"  trial {t}: exit {code}: {err.strip()[-200:]}", file=sys.stderr)
    done = args.trials - errors
    return {
        "setting": f"({letter}) {setting['label']}",
        "n": setting["n"],
        "trials": done,
        "errors": errors,
        "failed": fails,
        "rate": _rate(fails, done),
        "target": setting["target"],
        "causes": ", ".join(f"{k} {v}" for k, v in causes.most_common()) or "—",
        "seconds": round(time.time() - t0, 1),
    }


def theory(a: float, b: float, n: int = 200, drop: float = 0.10) -> str:
    """What the simulation's model allows, exactly: the mid-p McNemar power for setting (b) and the
    drop the gate's note would state, from llmctl.stats (no trial is run)."""
    from llmctl import stats
    from llmctl.gate import PASS_RATE_WEIGHT

    mean = a / (a + b)
    second = mean * (a + 1) / (a + b + 1)  # E[p^2] of Beta(a, b)
    keep = 1.0 - drop / mean  # the candidate passes with p x keep (World.answer)
    worse, better = mean - keep * second, keep * mean - keep * second
    holm = 0.05 * PASS_RATE_WEIGHT / (PASS_RATE_WEIGHT + 2)  # first Holm step, cost and latency on
    spread = stats.fit_spread(mean, 2 * (mean - second), 1)  # no-change disagreement 2 E[p(1-p)]
    mde = stats.min_detectable_drop(n, stats.discordance(spread, 1), holm)
    return (
        f"Beta({a:g},{b:g}), n={n}: P(pass->fail) {worse:.4f}, P(fail->pass) {better:.4f}; exact power for a "
        f"{drop * 100:g}-point drop {stats.mcnemar_midp_power(n, worse, better, holm):.1%} at the pass rate's Holm "
        f"level {holm:.4f}, {stats.mcnemar_midp_power(n, worse, better, 0.05):.1%} at 0.05; the gate's note: detects "
        f"{(mde or 0) * 100:.1f} pts with 80% power"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trials", type=int, default=200, help="trials per setting")
    parser.add_argument("--settings", default="abcde", help="which settings (letters), default abcde")
    parser.add_argument("--length-cv", type=float, default=0.5, help="completion-length coefficient of variation")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--difficulty",
        default="4,1",
        help="Beta(a,b) of the per-case pass probability, default 4,1 (mean 0.8); 0.8,0.2 has the same "
        "mean with more consistent cases (most pass or fail nearly always)",
    )
    parser.add_argument("--jobs", type=int, default=3, help="trials run at once, each with its own server (default 3)")
    parser.add_argument(
        "--write",
        action="store_true",
        help="write the results to benchmarks/RESULTS.md (replacing the section of the same settings)",
    )
    parser.add_argument("--theory", action="store_true", help="print the exact power and detectable drop; no trial")
    args = parser.parse_args()
    if args.theory:
        print(theory(*(float(x) for x in args.difficulty.split(","))))
        return 0

    # the commit measured: read at the start (the tree may move on while the trials run)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    a, b = (float(x) for x in args.difficulty.split(","))
    difficulty = (a, b)
    rows = []
    started = time.time()
    pool: queue.Queue[tuple[World, FakeOpenAIServer]] = queue.Queue()
    servers = []
    try:
        for _ in range(max(1, args.jobs)):
            world = World(args.length_cv, difficulty)
            srv = FakeOpenAIServer(responder=world.answer, latency_fn=world.latency).start()
            servers.append(srv)
            pool.put((world, srv))
        for letter in args.settings:
            row = _run_setting(letter, args, pool)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        for srv in servers:
            srv.stop()
    table = [
        "| setting | cases | trials | gate failed (95% CI) | target | failing checks (trials) |",
        "|---|---|---|---|---|---|",
    ]
    table += [
        f"| {r['setting']} | {r['n']} | {r['trials']} | {r['rate']} | {r['target']} | {r['causes']} |" for r in rows
    ]
    text = "\n".join(table)
    print(text)
    if args.write:
        header = (
            f"## Gate: false alarms and power through the CLI (benchmarks/gate_sim.py, settings {args.settings}, "
            f"difficulty {args.difficulty})\n\n"
            f"- command: `python benchmarks/gate_sim.py --trials {args.trials} --settings {args.settings} "
            f"--length-cv {args.length_cv} --difficulty {args.difficulty} --seed {args.seed} --jobs {args.jobs} --write`\n"
            f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}\n"
            f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; llmctl commit {commit.stdout.strip()}; "
            f"took {time.time() - started:.0f} s\n"
            "- each trial: a fresh repo, `llmctl eval --baseline HEAD~1 --no-cache` as a child process against the "
            f"local server (per-case Beta({a:g},{b:g}) difficulty, fresh Bernoulli draw per call, log-normal completion "
            f"length with CV {args.length_cv}, latency 100 ms x U(0.2,1.8) + log-normal tail); default gate "
            "(quality max_drop 5 pts, cost +10%, latency p95 +20%, confidence 0.95)\n\n"
        )
        write_section(header + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
