"""Reproduce every figure in benchmarks/RESULTS.md with one command.

    python benchmarks/run.py            # every scenario, 3 runs each (about 15 minutes)
    python benchmarks/run.py --quick    # 1 run each, smaller scale run
    python benchmarks/run.py --only startup,e2e --runs 5

It generates throw-away projects in a temp folder, starts the fake OpenAI-compatible
server (`python -m llmctl.testing.server`) in a separate process, so the server's CPU
does not share llmctl's GIL (it does share the machine's cores: say so when you quote
a figure), runs each scenario N times as a user would (fresh `llmctl` processes),
prints the medians and writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHILD = HERE / "_child.py"
KEY_ENV = "LLMCTL_BENCH_KEY"
VERDICT = '{"score": 1.0, "pass": true, "reason": "The answer matches."}'
ANSWER = "pong"

# -- machine and processes -----------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "llmctl"], cwd=REPO, capture_output=True, text=True)
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "commit": commit.stdout.strip() + (" (+ uncommitted changes in llmctl/)" if dirty.stdout.strip() else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def llmctl_cmd() -> list[str]:
    script = Path(sys.executable).with_name("llmctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "llmctl.cli.main"]


@dataclass
class Proc:
    wall_s: float
    cpu_s: float  # user + system of the child
    maxrss_mb: float
    rc: int
    stdout: str
    stderr: str


NICE = 0  # --nice: scheduling priority of every child (server included); 0 leaves it alone


def _set_priority() -> None:
    if NICE:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)


def run_proc(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 1800) -> Proc:
    """Run `cmd`; wall time from spawn to exit, and the child's own rusage (wait4)."""
    out_f = tempfile.TemporaryFile("w+")
    err_f = tempfile.TemporaryFile("w+")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out_f, stderr=err_f, text=True, preexec_fn=_set_priority)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.002)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_f.seek(0)
    err_f.seek(0)
    return Proc(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024,
        rc=proc.returncode,
        stdout=out_f.read(),
        stderr=err_f.read(),
    )


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise ValueError(f"no JSON in output:\n{text[-2000:]}")


class Server:
    """`python -m llmctl.testing.server` in its own process."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        responses = json.dumps({"<rubric>": VERDICT})
        cmd = [
            sys.executable,
            "-m",
            "llmctl.testing.server",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--default",
            ANSWER,
            "--responses",
            responses,
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=_set_priority
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+/v1)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.base_url = match.group(1)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# -- projects ------------------------------------------------------------------------------

CONFIG = """\
store: .llmctl/llmctl.duckdb
concurrency: 50
timeout: 60
retries: 2
default_models: [bench]
models:
  bench:
    model: openai/bench
    api_base: {base_url}
    api_key_env: {key_env}
    price: {{input_per_1k: 0.001, output_per_1k: 0.002}}
judge:
  model: bench
gate:
  quality: {{min_pass_rate: 0.5}}
"""

PROMPT = """\
description: Benchmark prompt (one short question).
params: {temperature: 0, max_tokens: 20}
inputs:
  question: {type: string}
messages:
  - role: system
    content: You answer in one word.
  - role: user
    content: "Question {{ question }}: reply with the word pong."
"""

EVALSETS = {
    "bench": "prompt: qa\nmodels: [bench]\nsource: {data}\nevaluators:\n  - {{type: contains, value: pong}}\n",
    "judge": (
        "prompt: qa\nmodels: [bench]\nsource: {data}\nevaluators:\n  - {{type: contains, value: pong}}\n"
        '  - {{type: judge, rubric: "Does the answer say pong?", model: bench, threshold: 0.5}}\n'
    ),
}


def make_project(root: Path, base_url: str, cases: int) -> Path:
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "evalsets").mkdir(exist_ok=True)
    (root / "llmctl.yaml").write_text(CONFIG.format(base_url=base_url, key_env=KEY_ENV))
    (root / "prompts" / "qa.yaml").write_text(PROMPT)
    data = f"data-{cases}.jsonl"
    with open(root / "evalsets" / data, "w") as fh:
        for i in range(cases):
            fh.write(json.dumps({"id": f"case-{i:06d}", "vars": {"question": f"#{i}"}, "expected": ANSWER}) + "\n")
    for name, text in EVALSETS.items():
        (root / "evalsets" / f"{name}.yaml").write_text(text.format(data=data))
    return root


PYCACHE = Path(tempfile.gettempdir()) / "llmctl-bench-pycache"
SRC = ""  # --src: benchmark the llmctl package in this folder instead of the installed one


BASE = ""  # --base: a second llmctl tree measured side by side with this one (ratios reported)


def child_env(src: str | None = None, **extra: str) -> dict[str, str]:
    """The children's environment: bytecode caching on (as for any installed package; this
    sandbox sets PYTHONDONTWRITEBYTECODE=1), kept out of the repo with PYTHONPYCACHEPREFIX.
    `src`: the folder holding the llmctl/ to run (default: --src, else the installed one)."""
    drop = ("LLMCTL_DB", "LLMCTL_TRANSPORT", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    src = SRC if src is None else src
    if src:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env[KEY_ENV] = "sk-bench"
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def fresh_store(project: Path) -> None:
    shutil.rmtree(project / ".llmctl", ignore_errors=True)


def check(proc: Proc, what: str) -> None:
    if proc.rc != 0:
        raise RuntimeError(
            f"{what} exited {proc.rc}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )


# -- scenarios -----------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured quantity: its samples, how it compares to the target."""

    key: str
    target: str
    unit: str
    samples: list[float] = field(default_factory=list)
    goal: float | None = None
    higher_is_better: bool = False
    limit: float | None = None  # the physical limit, same unit
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def met(self) -> bool | None:
        m = self.median
        if m is None or self.goal is None:
            return None
        return m >= self.goal if self.higher_is_better else m <= self.goal


def summarise_profile(raw: Path, top: int = 12) -> str:
    """Top self-time frames and top llmctl functions (inclusive) of a `py-spy record -f raw` file."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            if "llmctl/" in frame and "cli/" not in frame:
                name = frame.split(" (")[0] + " (" + frame.split("llmctl/")[-1].split(":")[0] + ")"
                inclusive[name] = inclusive.get(name, 0) + n
    out = [f"{total} samples (py-spy, 250 Hz, all threads, on-CPU)", "", "self time:"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {frame.strip() or '(native/idle)'}")
    out += ["", "inclusive, llmctl functions:"]
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {frame}")
    return "\n".join(out)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.runs = 1 if args.quick else args.runs
        self.tmp = Path(tempfile.mkdtemp(prefix="llmctl-bench-"))
        self.figures: dict[str, Figure] = {}
        self.details: dict[str, Any] = {}
        self.loads: list[float] = []
        self.cli = llmctl_cmd()

    def fig(self, key: str, **kw: Any) -> Figure:
        if key not in self.figures:
            self.figures[key] = Figure(key=key, **kw)
        return self.figures[key]

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def eval_cli(
        self, project: Path, evalset: str, concurrency: int, *more: str, src: str | None = None, **env: str
    ) -> Proc:
        self.loads.append(loadavg())
        proc = run_proc(
            [*self.cli, "eval", evalset, "--concurrency", str(concurrency), *more], project, child_env(src, **env)
        )
        check(proc, f"llmctl eval {evalset}")
        return proc

    # Targets 1-3 and 6 share the 100 ms server and one 2,000-case project.
    def main_suite(self, server: Server) -> None:
        n = self.args.cases
        project = make_project(self.tmp / "main", server.base_url, n)
        limit_s = n / (50 / (server.latency_ms / 1000))
        only = self.args.only
        if "throughput" in only:
            for conc in (50, 200):
                fig = self.fig(
                    f"throughput_c{conc}",
                    target=f"1. calls/s during the run, concurrency {conc}, {server.latency_ms:g} ms server",
                    unit="req/s",
                    goal=450.0 if conc == 50 else 1000.0,
                    higher_is_better=True,
                    limit=conc / (server.latency_ms / 1000),
                )
                cpu = []
                for i in range(self.runs):
                    fresh_store(project)
                    self.loads.append(loadavg())
                    proc = run_proc([sys.executable, str(CHILD), "eval", "bench", str(conc)], project, child_env())
                    check(proc, "benchmarks/_child.py eval")
                    out = last_json(proc.stdout)
                    fig.samples.append(out["req_per_s"])
                    cpu.append(proc.cpu_s * 1000 / n)
                    fig.extra.setdefault("phases", []).append(out)
                    self.log(f"  throughput c{conc} #{i + 1}: {out['req_per_s']:.0f} req/s ({out})")
                fig.extra["cpu_ms_per_case"] = statistics.median(cpu)
                fig.note = f"llmctl process CPU {statistics.median(cpu):.2f} ms/case (whole process, start-up included)"
        if "e2e" in only or "cached" in only:
            e2e = self.fig(
                "e2e",
                target=f"2. `llmctl eval` {n} cases end to end (c50, {server.latency_ms:g} ms)",
                unit="s",
                goal=4.6,
                limit=limit_s,
            )
            e2e_rss = self.fig("e2e_rss", target=f"2. `llmctl eval` {n} cases: max RSS", unit="MB", goal=160.0)
            cached = self.fig("cached", target=f"3. cached re-run of the same {n} cases", unit="s", goal=0.8)
            base_figs = (
                {
                    "e2e": self.fig("e2e_base", target=f"2. the same, base `{BASE}`", unit="s"),
                    "cached": self.fig("cached_base", target=f"3. the same, base `{BASE}`", unit="s"),
                    "e2e_ratio": self.fig("e2e_ratio", target="2. e2e wall, this tree / base", unit="x"),
                    "cached_ratio": self.fig("cached_ratio", target="3. cached wall, this tree / base", unit="x"),
                }
                if BASE
                else {}
            )
            cpu = []
            for i in range(self.runs):
                for name, src in self.trees():
                    fresh_store(project)
                    first = self.eval_cli(project, "bench", 50, src=src)
                    second = self.eval_cli(project, "bench", 50, src=src)
                    if "cached" not in second.stderr and f"{n} cached" not in second.stderr:
                        self.log("  warning: the re-run's progress does not mention cached results")
                    self.log(
                        f"  e2e {name} #{i + 1}: {first.wall_s:.2f} s (cpu {first.cpu_s:.2f} s, "
                        f"{first.maxrss_mb:.0f} MB); cached {second.wall_s:.2f} s"
                    )
                    if name == "base":
                        base_figs["e2e"].samples.append(first.wall_s)
                        base_figs["cached"].samples.append(second.wall_s)
                        base_figs["e2e_ratio"].samples.append(e2e.samples[-1] / first.wall_s)
                        base_figs["cached_ratio"].samples.append(cached.samples[-1] / second.wall_s)
                        continue
                    e2e.samples.append(first.wall_s)
                    e2e_rss.samples.append(first.maxrss_mb)
                    cached.samples.append(second.wall_s)
                    cpu.append(first.cpu_s)
            e2e.note = f"llmctl CPU {statistics.median(cpu):.2f} s for the whole command"
            # The cached path must not import litellm, even when litellm is the chosen transport.
            mods = run_proc(
                [sys.executable, str(CHILD), "modules", "--", "eval", "bench", "--concurrency", "50"],
                project,
                child_env(LLMCTL_TRANSPORT="litellm"),
            )
            check(mods, "cached import check")
            imported = last_json(mods.stdout)["imported"]
            cached.extra["imported"] = imported
            cached.note = (
                "litellm NOT imported (LLMCTL_TRANSPORT=litellm, sys.modules after the command); "
                if "litellm" not in imported
                else "litellm WAS imported on the cached path; "
            ) + f"heavy modules imported: {', '.join(imported) or 'none'}"
        if "judge" in only:
            fig = self.fig(
                "judge",
                target=f"6. {n} cases + one `judge` each (2 calls/case), <= 2.2x target 2",
                unit="s",
                limit=2 * limit_s,
            )
            for i in range(self.runs):
                fresh_store(project)
                proc = self.eval_cli(project, "judge", 50)
                fig.samples.append(proc.wall_s)
                self.log(f"  judge #{i + 1}: {proc.wall_s:.2f} s (cpu {proc.cpu_s:.2f} s)")
        if "transport" in only:
            self.transport(server, project)
        if "sides" in only:
            self.sides(server)
        if "scale10k" in only:
            self.scale10k(server)
        if "litellm" in only:
            self.litellm_loop(server)

    def sides(self, server: Server) -> None:
        """Issue 12: `eval --baseline` with both sides uncached vs one side alone, same server.

        The two commits differ in the system message, so no request is shared between the
        sides; both run interleaved in one pool of 50."""
        n = self.args.cases
        project = make_project(self.tmp / "sides", server.base_url, n)
        (project / ".gitignore").write_text(".llmctl/\n")
        git_env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
        }
        for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "A"]):
            subprocess.run(["git", *cmd], cwd=project, env=git_env, check=True, capture_output=True)
        prompt = project / "prompts" / "qa.yaml"
        prompt.write_text(PROMPT.replace("You answer in one word.", "You answer in exactly one word."))
        subprocess.run(["git", "commit", "-qam", "B"], cwd=project, env=git_env, check=True, capture_output=True)
        one = self.fig("sides_one", target=f"12. one side alone: {n} cases, --no-cache (c50)", unit="s")
        two = self.fig(
            "sides_two",
            target=f"12. `--baseline HEAD~1`: {n} + {n} cases, both uncached (c50)",
            unit="s",
        )
        ratio = self.fig("sides_ratio", target="12. two interleaved sides / one side", unit="x", goal=1.15)
        for i in range(self.runs):
            fresh_store(project)
            single = self.eval_cli(project, "bench", 50, "--no-cache")
            fresh_store(project)
            self.loads.append(loadavg())
            proc = run_proc(
                [*self.cli, "eval", "bench", "--concurrency", "50", "--no-cache", "--baseline", "HEAD~1"],
                project,
                child_env(),
            )
            if proc.rc not in (0, 1):  # 1: the gate's verdict, still a complete comparison
                check(proc, "llmctl eval --baseline HEAD~1")
            one.samples.append(single.wall_s)
            two.samples.append(proc.wall_s)
            ratio.samples.append(proc.wall_s / single.wall_s)
            self.log(
                f"  sides #{i + 1}: one side {single.wall_s:.2f} s, two sides {proc.wall_s:.2f} s "
                f"({proc.wall_s / single.wall_s:.2f}x)"
            )
        ratio.note = f"the physical limit of one side is {n / (50 / (server.latency_ms / 1000)):.1f} s"

    def transport(self, server: Server, project: Path) -> None:
        """The model layer alone (loadgen) and a whole eval, native vs litellm, side by side."""
        rows: list[dict[str, Any]] = []
        for transport in ("native", "litellm"):
            for conc in (50, 200):
                proc = run_proc(
                    [
                        sys.executable,
                        "-m",
                        "llmctl.testing.loadgen",
                        "--worker",
                        "--server",
                        server.base_url,
                        "--transports",
                        transport,
                        "--concurrency",
                        str(conc),
                        "--requests",
                        str(self.args.cases),
                        "--warmup",
                        "50",
                    ],
                    REPO,
                    child_env(),
                )
                check(proc, "loadgen")
                row = last_json(proc.stdout)
                rows.append(row)
                self.log(f"  loadgen {transport} c{conc}: {row}")
        evals = {}
        for transport in ("native", "litellm"):
            fresh_store(project)
            proc = self.eval_cli(project, "bench", 50, LLMCTL_TRANSPORT=transport)
            evals[transport] = {"wall_s": round(proc.wall_s, 2), "cpu_s": round(proc.cpu_s, 2)}
            self.log(f"  eval {transport}: {evals[transport]}")
        self.details["transport"] = {"loadgen": rows, "eval": evals}

    def profile(self, server: Server) -> None:
        """py-spy profiles of one uncached and one cached 2,000-case eval (c50)."""
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(pyspy).exists():
            self.details["profiles"] = {"note": "py-spy not installed (pip install py-spy)"}
            return
        project = make_project(self.tmp / "profile", server.base_url, self.args.cases)
        fresh_store(project)
        folder = HERE / "profiles"
        folder.mkdir(exist_ok=True)
        profiles = {}
        for label in ("uncached", "cached"):
            raw = self.tmp / f"{label}.txt"
            cmd = [pyspy, "record", "-r", "250", "-f", "raw", "-o", str(raw), "--"]
            proc = run_proc([*cmd, sys.executable, str(CHILD), "eval", "bench", "50"], project, child_env())
            check(proc, f"py-spy {label}")
            text = summarise_profile(raw)
            name = f"{self.args.profile_label}-{label}.txt"
            (folder / name).write_text(text + "\n")
            profiles[label] = text
            self.log(f"  profile {label}: benchmarks/profiles/{name}")
        self.details["profiles"] = profiles

    def startup(self) -> None:
        project = make_project(self.tmp / "startup", "http://127.0.0.1:9/v1", 10)
        help_text = run_proc([*self.cli, "--help"], project, child_env()).stdout
        commands: list[tuple[str, list[str]]] = [
            ("--help", ["--help"]),
            ("render", ["render", "qa", "--var", "question=x"]),
            ("lint", ["lint"]),
        ]
        if re.search(r"^\s+diff\s", help_text, re.MULTILINE):
            # diff between two existing runs: no new model calls
            commands.append(("diff", ["diff", "WORKTREE", "WORKTREE"]))
        runs = max(5, self.runs * 2)
        for name, argv in commands:
            fig = self.fig(f"startup_{name}", target=f"4. `llmctl {' '.join(argv)}`", unit="s", goal=0.15)
            cpu = []
            for _ in range(runs + 1):
                proc = run_proc([*self.cli, *argv], project, child_env())
                if proc.rc != 0:
                    fig.note = f"exit {proc.rc}: {proc.stderr.strip()[-200:]}"
                fig.samples.append(proc.wall_s)
                cpu.append(proc.cpu_s)
            fig.samples, cpu = fig.samples[1:], cpu[1:]  # the first run warms the OS file cache
            fig.note = (fig.note + "; " if fig.note else "") + f"CPU (user+sys) median {statistics.median(cpu):.3f} s"
            self.log(f"  {name}: median {fig.median:.3f} s")
        if "diff" not in [c[0] for c in commands]:
            self.fig(
                "startup_diff",
                target="4. `llmctl diff` (without new runs)",
                unit="s",
                goal=0.15,
                note="not measured: `diff` is not registered in the CLI yet",
            )

    def trees(self) -> list[tuple[str, str | None]]:
        """The llmctl trees a side-by-side scenario measures: this one, then --base (if given)."""
        return [("this", None), *([("base", BASE)] if BASE else [])]

    def side_by_side(
        self, key: str, target: str, measure: Any, *, goal_s: float | None, goal_mb: float | None, limit: float
    ) -> None:
        """`measure(src) -> Proc` for this tree and --base, interleaved run by run: wall, max RSS
        and CPU of each, and (with --base) this/base ratios of each pair, so load that changes
        during the run hits both alike."""
        figs: dict[str, dict[str, Figure]] = {}
        for name, _ in self.trees():
            tag = "" if name == "this" else f" [base: `{BASE}`]"
            sfx = "" if name == "this" else "_base"
            figs[name] = {
                "wall": self.fig(f"{key}_wall{sfx}", target=target + tag, unit="s", goal=goal_s, limit=limit),
                "rss": self.fig(
                    f"{key}_rss{sfx}", target=f"{target}: peak memory (max RSS){tag}", unit="MB", goal=goal_mb
                ),
                "cpu": self.fig(f"{key}_cpu{sfx}", target=f"{target}: CPU (user+sys){tag}", unit="s"),
            }
        ratios = (
            {
                k: self.fig(f"{key}_{k}_ratio", target=f"{target}: {what}, this tree / base", unit="x")
                for k, what in (("wall", "wall"), ("rss", "peak memory"), ("cpu", "CPU"))
            }
            if BASE
            else {}
        )
        for i in range(self.runs):
            got: dict[str, Proc] = {}
            for name, src in self.trees():
                load = loadavg()
                proc = measure(src)
                got[name] = proc
                f = figs[name]
                f["wall"].extra.setdefault("load", []).append(round(load, 2))
                f["wall"].note = "1-min load average when each sample started: " + ", ".join(
                    f"{x:.1f}" for x in f["wall"].extra["load"]
                )
                f["wall"].samples.append(proc.wall_s)
                f["rss"].samples.append(proc.maxrss_mb)
                f["cpu"].samples.append(proc.cpu_s)
                self.log(
                    f"  {key} {name} #{i + 1}: {proc.wall_s:.2f} s, max RSS {proc.maxrss_mb:.0f} MB, "
                    f"cpu {proc.cpu_s:.2f} s (load {loadavg():.2f})"
                )
            if BASE:
                ratios["wall"].samples.append(got["this"].wall_s / got["base"].wall_s)
                ratios["rss"].samples.append(got["this"].maxrss_mb / got["base"].maxrss_mb)
                ratios["cpu"].samples.append(got["this"].cpu_s / got["base"].cpu_s)

    def scale10k(self, server: Server) -> None:
        """Issue 27: 10,000 cases at concurrency 50 against the 100 ms server (limit 20 s), side by side."""
        n = 10_000
        project = make_project(self.tmp / "scale10k", server.base_url, n)

        def measure(src: str | None) -> Proc:
            fresh_store(project)
            return self.eval_cli(project, "bench", 50, src=src)

        limit = n / (50 / (server.latency_ms / 1000))
        target = f"27. {n:,} cases, c50, {server.latency_ms:g} ms server, fresh store"
        self.side_by_side("scale10k", target, measure, goal_s=21.0, goal_mb=None, limit=limit)

    def litellm_loop(self, server: Server) -> None:
        """Issue 27: `LLMCTL_TRANSPORT=litellm llmctl eval` of the 2,000 cases (c50, fresh store)
        against a hand-written litellm loop making the same requests (`_child.py litellm-loop`),
        interleaved, and their ratio."""
        n = self.args.cases
        project = make_project(self.tmp / "litellm", server.base_url, n)
        loop = self.fig("litellm_loop", target=f"27. hand-written litellm loop: {n} calls, c50", unit="s")
        ours = self.fig("litellm_eval", target=f"27. `LLMCTL_TRANSPORT=litellm llmctl eval`: {n} cases, c50", unit="s")
        ratio = self.fig("litellm_ratio", target="27. litellm eval / hand-written litellm loop", unit="x", goal=1.05)
        cpu: dict[str, list[float]] = {"loop": [], "eval": []}
        for i in range(self.runs):
            self.loads.append(loadavg())
            hand = run_proc(
                [sys.executable, str(CHILD), "litellm-loop", server.base_url, str(n), "50"], project, child_env()
            )
            check(hand, "benchmarks/_child.py litellm-loop")
            fresh_store(project)
            proc = self.eval_cli(project, "bench", 50, LLMCTL_TRANSPORT="litellm")
            loop.samples.append(hand.wall_s)
            ours.samples.append(proc.wall_s)
            ratio.samples.append(proc.wall_s / hand.wall_s)
            cpu["loop"].append(hand.cpu_s)
            cpu["eval"].append(proc.cpu_s)
            self.log(
                f"  litellm #{i + 1}: hand loop {hand.wall_s:.2f} s (cpu {hand.cpu_s:.2f} s), "
                f"eval {proc.wall_s:.2f} s (cpu {proc.cpu_s:.2f} s), {proc.wall_s / hand.wall_s:.2f}x"
            )
        loop.note = f"CPU {statistics.median(cpu['loop']):.2f} s (litellm.acompletion, asyncio.Semaphore(50))"
        ours.note = f"CPU {statistics.median(cpu['eval']):.2f} s (render, score, store included)"

    def scale(self) -> None:
        n = self.args.scale_cases
        conc = 200
        server = Server(self.args.scale_latency_ms)
        try:
            project = make_project(self.tmp / "scale", server.base_url, n)
            fresh_store(project)
            limit = n / (conc / (server.latency_ms / 1000))
            target = f"5. {n:,} cases, concurrency {conc}, {server.latency_ms:g} ms server"
            gate = self.fig(
                "scale_gate", target=f"5. gate between two {n:,}-case runs (outcomes + compare)", unit="s", goal=2.0
            )
            second: list[Proc] = []

            def measure(src: str | None) -> Proc:
                # two full runs (the second with --no-cache: real calls again), then the gate
                fresh_store(project)
                first = self.eval_cli(project, "bench", conc, src=src)
                again = self.eval_cli(project, "bench", conc, "--no-cache", src=src)
                second.append(again)
                if src is None:
                    g = run_proc([sys.executable, str(CHILD), "gate"], project, child_env())
                    check(g, "gate")
                    out = last_json(g.stdout)
                    gate.samples.append(out["gate_s"])
                    gate.extra.setdefault("runs", []).append(out)
                    self.log(f"  gate: {out}")
                    runs_show = run_proc([*self.cli, "runs", "show", out["candidate"]], project, child_env())
                    gate.extra.setdefault("runs_show_s", []).append(round(runs_show.wall_s, 2))
                return first

            saved, self.runs = self.runs, self.args.scale_runs
            try:
                self.side_by_side("scale", target, measure, goal_s=25.0, goal_mb=400.0, limit=limit)
            finally:
                self.runs = saved
            wall = self.figures["scale_wall"]
            rate = n / statistics.median(wall.samples)
            again_s = ", ".join(f"{p.wall_s:.1f} s / {p.maxrss_mb:.0f} MB" for p in second)
            wall.note = (
                f"{rate:,.0f} cases/s; physical limit {conc / (server.latency_ms / 1000):,.0f}/s; "
                f"each first run was followed by a --no-cache run into the same store (wall / max RSS, "
                f"in order{', this and base alternating' if BASE else ''}): {again_s}"
            )
            split = gate.extra["runs"][-1]
            gate.note = (
                f"store.outcomes of both runs {split['outcomes_s']:.2f} s + gate.compare {split['compare_s']:.2f} s; "
                f"`llmctl runs show` of a {n:,}-case run: {statistics.median(gate.extra['runs_show_s']):.2f} s wall"
            )
        finally:
            server.close()

    # -- report --------------------------------------------------------------------------

    def run(self) -> int:
        started = time.perf_counter()
        only = self.args.only
        try:
            if "startup" in only:
                self.log("startup ...")
                self.startup()
            if only & {"throughput", "e2e", "cached", "judge", "transport", "profile", "sides", "scale10k", "litellm"}:
                server = Server(self.args.latency_ms)
                try:
                    self.log(f"main suite ({self.args.cases} cases, server {server.base_url}) ...")
                    self.main_suite(server)
                    if "profile" in only:
                        self.profile(server)
                finally:
                    server.close()
            if "scale" in only:
                self.log(f"scale ({self.args.scale_cases} cases) ...")
                self.scale()
            if "judge" in self.figures and "e2e" in self.figures:
                judge, e2e = self.figures["judge"], self.figures["e2e"]
                if judge.median and e2e.median:
                    judge.goal = 2.2 * e2e.median
                    judge.note = f"{judge.median / e2e.median:.2f}x target 2's median"
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.elapsed = time.perf_counter() - started
        text = self.report()
        print(text)
        if not self.args.no_write:
            out = Path(self.args.output)
            out.write_text(text)
            self.log(f"wrote {out}")
            if Path(self.args.output).resolve() == (HERE / "RESULTS.md").resolve():
                (HERE / "results.json").write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": machine(),
            "command": self.command,
            "figures": {k: {**f.__dict__, "median": f.median, "met": f.met} for k, f in self.figures.items()},
            "details": self.details,
        }

    @property
    def command(self) -> str:
        return "python benchmarks/run.py " + " ".join(sys.argv[1:])

    def report(self) -> str:
        m = machine()
        lines = [
            "# llmctl benchmark results",
            "",
            "Generated by `benchmarks/run.py`; every figure below is printed by that script.",
            "",
            f"- command: `{self.command}` ({self.runs} run(s) per scenario; medians)",
            f"- machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, {m['platform']}",
            f"- date: {m['date']}; llmctl commit {m['commit']}" + (f"; measured the llmctl in `{SRC}`" if SRC else ""),
            *(
                [f"- side by side (interleaved, run by run) with the llmctl in `{BASE}` ({_tree_commit(BASE)})"]
                if BASE
                else []
            ),
            f"- load average (1 min) when scenarios started: min {min(self.loads, default=0):.2f}, "
            f"median {statistics.median(self.loads) if self.loads else 0:.2f}, max {max(self.loads, default=0):.2f} "
            "(the machine is shared: the fake server and other work use the same cores)",
            f"- the fake server runs in its own process on the same {m['nproc']} cores; "
            f"took {self.elapsed:.0f} s in all",
            f"- children ran at nice {NICE} (process and session autogroup: the cores are shared with other "
            "jobs); with bytecode caching on (PYTHONPYCACHEPREFIX in a temp folder)",
            "",
            "| target | goal | measured (median) | samples | vs physical limit | met? |",
            "|---|---|---|---|---|---|",
        ]
        for f in self.figures.values():
            med = f.median
            if med is None:
                lines.append(f"| {f.target} | {_goal(f)} | — | — | — | not measured |")
                continue
            if f.limit:
                ratio = med / f.limit if f.higher_is_better else f.limit / med
                limit = f"{ratio:.0%} of {f.limit:g} {f.unit}"
            else:
                limit = "—"
            met = {True: "yes", False: "**no**", None: "—"}[f.met]
            samples = ", ".join(_fmt(s, f.unit) for s in f.samples)
            lines.append(f"| {f.target} | {_goal(f)} | {_fmt(med, f.unit)} | {samples} | {limit} | {met} |")
        notes = [f"- {f.key}: {f.note}" for f in self.figures.values() if f.note]
        if notes:
            lines += ["", "Notes:", "", *notes]
        phases = self.figures.get("throughput_c50")
        if phases and phases.extra.get("phases"):
            lines += ["", "Phases of one in-process run (c50, seconds):", "", "```"]
            lines += [json.dumps(p) for p in phases.extra["phases"]]
            lines += ["```"]
        t = self.details.get("transport")
        if t:
            lines += [
                "",
                "## Transports side by side (same server)",
                "",
                f"Model layer alone (`llmctl.testing.loadgen` worker, {self.args.cases} requests after 50 warm-up):",
                "",
                "| transport | concurrency | req/s | client CPU ms/call | p50 ms | p95 ms | errors |",
                "|---|---|---|---|---|---|---|",
            ]
            for r in t["loadgen"]:
                lines.append(
                    f"| {r['transport']} | {r['concurrency']} | {r['req_per_s']} | {r['client_cpu_ms_per_call']} "
                    f"| {r['latency_p50_ms']} | {r['latency_p95_ms']} | {r['errors']} |"
                )
            lines += ["", "Whole `llmctl eval` (c50, fresh store), by `LLMCTL_TRANSPORT`:", ""]
            for name, v in t["eval"].items():
                lines.append(f"- {name}: {v['wall_s']} s wall, {v['cpu_s']} s CPU")
        profiles = self.details.get("profiles")
        if profiles:
            lines += ["", "## Profiles (2,000 cases, c50, one in-process eval each)", ""]
            for label, text in profiles.items():
                lines += [f"This run, {label}:", "", "```", text, "```", ""]
            for before in sorted((HERE / "profiles").glob("before-*.txt")):
                lines += [
                    f"Before (`benchmarks/profiles/{before.name}`):",
                    "",
                    "```",
                    before.read_text().strip(),
                    "```",
                    "",
                ]
        extra = HERE / "NOTES.md"
        if extra.exists():
            lines += ["", extra.read_text().strip()]
        return "\n".join(lines) + "\n"


def _tree_commit(folder: str) -> str:
    """The commit a --base folder holds (a git worktree), or 'not a git checkout'."""
    proc = subprocess.run(["git", "-C", folder, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"commit {proc.stdout.strip()}" if proc.returncode == 0 else "not a git checkout"


def _goal(f: Figure) -> str:
    if f.goal is None:
        return "—"
    return ("≥ " if f.higher_is_better else "≤ ") + _fmt(f.goal, f.unit)


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"
    if unit == "req/s":
        return f"{value:.0f} req/s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.0f} {unit}"


SCENARIOS = (
    "startup",
    "throughput",
    "e2e",
    "cached",
    "judge",
    "transport",
    "profile",
    "scale",
    "sides",
    "scale10k",
    "litellm",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median reported)")
    parser.add_argument("--quick", action="store_true", help="1 run per scenario, 20,000-case scale run")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated: {','.join(SCENARIOS)}")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--scale-cases", type=int, default=None, help="default 100,000 (20,000 with --quick)")
    parser.add_argument("--scale-latency-ms", type=float, default=20.0)
    parser.add_argument("--scale-runs", type=int, default=1, help="pairs of scale runs (each pair: 2 runs + gate)")
    parser.add_argument(
        "--src", default=None, help="folder holding another llmctl/ to measure (e.g. `git archive` of a commit)"
    )
    parser.add_argument(
        "--base",
        default=None,
        help="folder holding a second llmctl/ (e.g. `git worktree add /tmp/base COMMIT`) that the e2e, cached, "
        "scale and scale10k scenarios run side by side with this one, interleaved, reporting this/base ratios",
    )
    parser.add_argument("--profile-label", default="after", help="profiles go to benchmarks/profiles/LABEL-*.txt")
    parser.add_argument("--nice", type=int, default=0, help="run every child at this nice value (root: < 0)")
    parser.add_argument(
        "--output",
        default=None,
        help="where to write the table (default: RESULTS.md for a full run; with --only, print only)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    partial = args.only != ",".join(SCENARIOS)
    if args.output is None:
        # A partial run must not overwrite the full table (and results.json) with a subset.
        args.output = str(HERE / "RESULTS.md")
        args.no_write = args.no_write or partial
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = args.only - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    global NICE, SRC, BASE
    NICE = args.nice
    SRC = str(Path(args.src).resolve()) if args.src else ""
    BASE = str(Path(args.base).resolve()) if args.base else ""
    if BASE and not (Path(BASE) / "llmctl" / "__init__.py").is_file():
        parser.error(f"--base {args.base}: no llmctl/ package in that folder")
    if NICE:
        # With autogroup scheduling (Linux default), nice only ranks processes within one
        # session; this session's weight against other sessions is its autogroup's nice.
        try:
            Path("/proc/self/autogroup").write_text(str(NICE))
        except OSError:
            print("note: could not set this session's autogroup nice", file=sys.stderr)
    if args.scale_cases is None:
        args.scale_cases = 20_000 if args.quick else 100_000
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
