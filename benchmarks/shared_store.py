"""A 2,000-case `llmctl eval` into a local DuckDB file and into shared DuckLake stores, side by side.

    .venv/bin/python benchmarks/shared_store.py                # 3 interleaved rounds, medians
    .venv/bin/python benchmarks/shared_store.py --runs 5 --latency-ms 100 --write

Sides (each a fresh store every round, the same project otherwise, `--no-cache`):
`local` (.llmctl/llmctl.duckdb), `sqlite` (a DuckLake: SQLite catalog and Parquet data in a
folder) and `postgres` (a DuckLake with its catalog in a PostgreSQL cluster the script starts on
127.0.0.1, as tests/store/services.py does; skipped where PostgreSQL is not installed). The model
is the fake OpenAI-compatible server (`python -m llmctl.testing.server`, `--latency-ms`) at
concurrency 50, as benchmarks/run.py's e2e scenario; `--latency-ms 0` with `--offline` uses the
scripted offline model instead, which leaves the store as nearly all the work. The rounds
interleave the sides, so machine load falls on all of them alike. `--write` replaces the
"Shared store" section of RESULTS.md.

`--split` times nothing side by side: it runs one eval per store (local, sqlite) under
`py-spy record` and prints where each one's samples went (the store's statements, the
DuckLake extensions' LOAD, the schema check, imports), then the time DuckDB takes to LOAD the
DuckLake and SQLite extensions in a fresh process, with its signature check and (for
comparison only; llmctl never does this) without it.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "store"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import write_section  # noqa: E402
from run import ANSWER, Server, loadavg, run_proc  # noqa: E402 - the runner's helpers, not copies
from services import postgres_server  # noqa: E402

SECTION = "## Shared store (DuckLake) against the local file (benchmarks/shared_store.py)"


def project(root: Path, cases: int, base_url: str | None) -> None:
    import yaml

    root.mkdir(parents=True)
    (root / "prompts").mkdir()
    (root / "evalsets").mkdir()
    model = {"model": "openai/bench", "api_base": base_url} if base_url else {"model": "scripted", "default": ANSWER}
    (root / "llmctl.yaml").write_text(
        yaml.safe_dump(
            {
                "concurrency": 50,
                "default_models": ["bench"],
                "models": {"bench": model},
                "gate": {"quality": {"min_pass_rate": 0.5}},
            }
        )
    )
    (root / "prompts" / "qa.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "qa",
                "inputs": {"q": {"type": "string"}},
                "messages": [{"role": "user", "content": "Question {{ q }}"}],
            }
        )
    )
    with (root / "evalsets" / "qa.jsonl").open("w") as fh:
        for i in range(cases):
            fh.write(json.dumps({"id": f"case-{i}", "vars": {"q": str(i)}}) + "\n")
    (root / "evalsets" / "qa.yaml").write_text(
        yaml.safe_dump(
            {"prompt": "qa", "source": "evalsets/qa.jsonl", "evaluators": [{"type": "contains", "value": ANSWER}]}
        )
    )


def one_eval(root: Path, store_env: dict[str, str]) -> tuple[float, float]:
    """One timed `llmctl eval`: (wall seconds, the process's CPU seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMCTL_")}
    env.update(store_env, OPENAI_API_KEY="sk-bench")
    done = run_proc(
        [sys.executable, "-m", "llmctl.cli.main", "eval", "evalsets/qa.yaml", "--no-cache"], root, env, timeout=1200
    )
    if done.rc != 0:
        raise SystemExit(f"eval failed ({done.rc}): {done.stderr[-2000:]}")
    return done.wall_s, done.cpu_s


def create_store(store_env: dict[str, str]) -> None:
    """Create and migrate the store `store_env` names, untimed (a team's shared store exists already)."""
    code = (
        "import os; from pathlib import Path; from llmctl.store import Store; "
        "from llmctl.store_location import parse_store_url; "
        "loc = parse_store_url(os.environ['LLMCTL_STORE'], root=Path.cwd()) if 'LLMCTL_STORE' in os.environ "
        "else Path(os.environ['LLMCTL_DB']); Store(loc)._db.run(lambda con: None)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMCTL_")}
    env.update(store_env)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)


SPLIT_CATEGORIES = (
    # (label, frame text that puts a sample in it), first match wins
    ("DuckDB's client imports pandas on the first parameterized statement (both stores)", "pandas/"),
    ("DuckLake: loading the extensions (prepare_for_lake)", "prepare_for_lake ("),
    ("DuckLake: the schema check (_check_schema)", "LakeConnector._check_schema ("),
    ("local file: the schema check (_check_schema)", "Connector._check_schema ("),
    ("the store's statements (Connector.run / LakeConnector.run)", "Connector.run ("),
    ("other imports", "_find_and_load ("),
)


def split(root: Path, cases: int) -> None:
    """One profiled eval per store (py-spy raw samples), split by SPLIT_CATEGORIES; then LOAD times."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise SystemExit("--split needs py-spy (the dev extra)")
    project(root / "project", cases, None)
    sides = {
        "local": {"LLMCTL_DB": str(root / "local.duckdb")},
        "sqlite": {"LLMCTL_STORE": f"ducklake:sqlite:{root}/sq/catalog.sqlite;data={root}/sq/data/"},
    }
    for name, store_env in sides.items():
        create_store(store_env)
        out = root / f"{name}.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMCTL_")}
        env.update(store_env)
        cmd = [str(py_spy), "record", "-r", "100", "-f", "raw", "-o", str(out), "--", sys.executable]
        cmd += ["-m", "llmctl.cli.main", "eval", "evalsets/qa.yaml", "--no-cache"]
        done = run_proc(cmd, root / "project", env, timeout=1200)
        if done.rc != 0:
            raise SystemExit(f"eval failed ({done.rc}): {done.stderr[-2000:]}")
        counts = dict.fromkeys([c[0] for c in SPLIT_CATEGORIES] + ["the rest"], 0)
        total = 0
        for line in out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            total += int(n)
            label = next((c[0] for c in SPLIT_CATEGORIES if c[1] in stack), "the rest")
            counts[label] += int(n)
        print(f"{name}: {done.wall_s:.2f} s wall, {total / 100:.2f} s of samples (100/s)")
        for label, n in counts.items():
            print(f"  {100 * n / max(total, 1):5.1f}%  {n / 100:6.2f} s  {label}")
    code = (
        "import sys, time, duckdb; from llmctl.store._lake import extension_path; "
        "cfg = {'autoinstall_known_extensions': False, 'autoload_known_extensions': False}; "
        "cfg.update({'allow_unsigned_extensions': True} if sys.argv[1] == 'unsigned' else {}); "
        "con = duckdb.connect(':memory:', config=cfg); t = time.perf_counter(); "
        "[con.execute(f\"LOAD '{extension_path(n)}'\") for n in ('ducklake', 'sqlite_scanner')]; "
        "print(f'{time.perf_counter() - t:.3f}')"
    )
    for mode in ("signed", "unsigned", "signed", "unsigned"):
        got = subprocess.run(
            [sys.executable, "-c", code, mode], capture_output=True, text=True, check=True, timeout=300
        )
        print(f"LOAD ducklake + sqlite_scanner, fresh process, {mode}: {got.stdout.strip()} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the fake server's answer delay")
    parser.add_argument("--offline", action="store_true", help="the scripted offline model instead of the server")
    parser.add_argument(
        "--fresh", action="store_true", help="time creating and migrating each store too (default: made untimed first)"
    )
    parser.add_argument("--write", action="store_true", help="replace this section of benchmarks/RESULTS.md")
    parser.add_argument(
        "--split", action="store_true", help="profile one eval per store (py-spy) and print where the time went"
    )
    args = parser.parse_args()
    if args.split:
        work = Path(tempfile.mkdtemp(prefix="llmctl-shared-split-"))
        try:
            split(work, args.cases)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return

    work = Path(tempfile.mkdtemp(prefix="llmctl-shared-bench-"))
    server = None
    base_url = None
    if not args.offline:
        server = Server(args.latency_ms)
        base_url = server.base_url
    times: dict[str, list[float]] = {"local": [], "sqlite": [], "postgres": []}
    cpu: dict[str, list[float]] = {"local": [], "sqlite": [], "postgres": []}
    load_before = loadavg()
    try:
        root = work / "project"
        project(root, args.cases, base_url)
        with postgres_server() as pg:
            for r in range(args.runs):
                sides: dict[str, dict[str, str]] = {
                    "local": {"LLMCTL_DB": str(work / f"local-{r}.duckdb")},
                    "sqlite": {
                        "LLMCTL_STORE": f"ducklake:sqlite:{work}/sq-{r}/catalog.sqlite;data={work}/sq-{r}/data/"
                    },
                }
                if not isinstance(pg, str):
                    sides["postgres"] = {
                        "LLMCTL_STORE": f"ducklake:postgres:{pg.createdb(f'bench{r}')};data={work}/pg-{r}/data/"
                    }
                for name, env in sides.items():
                    if not args.fresh:
                        create_store(env)
                    wall, cpu_s = one_eval(root, env)
                    times[name].append(wall)
                    cpu[name].append(cpu_s)
                    print(f"round {r + 1}: {name:<8} {wall:6.2f} s wall, {cpu_s:6.2f} s CPU", flush=True)
            pg_note = pg if isinstance(pg, str) else "PostgreSQL 15 (Debian), fsync off, on 127.0.0.1"
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)

    local = statistics.median(times["local"])
    local_cpu = statistics.median(cpu["local"])
    rows = []
    for name in ("local", "sqlite", "postgres"):
        if times[name]:
            med = statistics.median(times[name])
            med_cpu = statistics.median(cpu[name])
            rows.append(
                f"| {name} | {med:.2f} s | {', '.join(f'{t:.2f}' for t in times[name])} | {med / local:.2f}x "
                f"| {med_cpu:.2f} s | {med_cpu / local_cpu:.2f}x |"
            )
    model = "scripted offline model" if args.offline else f"fake OpenAI-compatible server, {args.latency_ms:g} ms"
    load = (load_before + loadavg()) / 2
    text = "\n".join(
        [
            SECTION,
            "",
            f"`{' '.join(['python', 'benchmarks/shared_store.py', *sys.argv[1:]])}`: {args.cases:,} cases, "
            f"{model}, concurrency 50, `--no-cache`, {args.runs} interleaved round(s), a new store each "
            f"({'created inside the timed eval' if args.fresh else 'created and migrated before the timed eval'}); "
            f"load average {load:.1f} on {os.cpu_count()} cores (1-minute, mean of start and end). "
            f"Postgres: {pg_note}. CPU: the llmctl process's user + system time (wait4).",
            "",
            "| store | median wall | each round (s) | vs local | median CPU | CPU vs local |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
