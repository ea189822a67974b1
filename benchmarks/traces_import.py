"""`llmctl traces import` speed and memory on a generated OTLP/JSON file.

Generates a file of N LLM spans the way the OpenTelemetry Collector's file exporter writes them
(one ExportTraceServiceRequest a line, `--per-line` spans each, every span with gen_ai.* attributes,
prompt and completion content, tokens, and a parent app span naming the prompt), then runs
`llmctl traces import FILE` as a child process in a throw-away project and reports its wall time,
the peak RSS of that (main) process and the largest peak RSS of its worker processes (files of
48 MB or more are parsed by workers), the CPU time of the main process and of all workers together, then imports the same file again (idempotency: 0 new).

    .venv/bin/python benchmarks/traces_import.py --spans 1000000            # the 1M-span figure
    .venv/bin/python benchmarks/traces_import.py --gigabytes 1 --reimport no  # a 1 GB file (under /tmp)

The file is written under --dir (default: the system temp folder) and deleted afterwards unless --keep.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["summarize", "triage", "support/answer"]
MODELS = ["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-20241022"]


def _attr(key: str, value: object) -> dict[str, object]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def generate(path: Path, *, spans: int | None, size: int | None, per_line: int, seed: int) -> tuple[int, int]:
    """Write the file; returns (LLM spans, bytes). Stops at `spans` spans or `size` bytes."""
    rng = random.Random(seed)
    t0 = 1_780_000_000_000_000_000
    written = count = 0
    filler = " ".join(f"word{i}" for i in range(60))
    with path.open("w", encoding="utf-8") as fh:
        line_no = 0
        while (spans is None or count < spans) and (size is None or written < size):
            out = []
            for _ in range(per_line // 2):
                if spans is not None and count >= spans:
                    break
                trace = f"{rng.getrandbits(128):032x}"
                app, llm = f"{rng.getrandbits(64):016x}", f"{rng.getrandbits(64):016x}"
                start = t0 + count * 600_000_000
                dur = int(rng.lognormvariate(6.5, 0.4) * 1e6)
                prompt = PROMPTS[count % len(PROMPTS)]
                model = MODELS[count % len(MODELS)]
                out.append(
                    {
                        "traceId": trace,
                        "spanId": app,
                        "name": "POST /answer",
                        "kind": 2,
                        "startTimeUnixNano": str(start),
                        "endTimeUnixNano": str(start + dur + 5_000_000),
                        "attributes": [_attr("llmctl.prompt", prompt), _attr("llmctl.prompt.version", "v3")],
                        "status": {},
                    }
                )
                attrs = [
                    _attr("gen_ai.system", "openai"),
                    _attr("gen_ai.operation.name", "chat"),
                    _attr("gen_ai.request.model", model),
                    _attr("gen_ai.response.model", model),
                    _attr("gen_ai.usage.input_tokens", rng.randint(200, 900)),
                    _attr("gen_ai.usage.output_tokens", rng.randint(20, 200)),
                    _attr("gen_ai.prompt.0.role", "system"),
                    _attr("gen_ai.prompt.0.content", "You answer support tickets."),
                    _attr("gen_ai.prompt.1.role", "user"),
                    _attr("gen_ai.prompt.1.content", f"Ticket {count}: {filler}"),
                    _attr("gen_ai.completion.0.role", "assistant"),
                    _attr("gen_ai.completion.0.content", f"Answer {count}: {filler[:200]}"),
                    _attr("gen_ai.completion.0.finish_reason", "stop"),
                ]
                error = rng.random() < 0.02
                out.append(
                    {
                        "traceId": trace,
                        "spanId": llm,
                        "parentSpanId": app,
                        "name": f"chat {model}",
                        "kind": 3,
                        "startTimeUnixNano": str(start + 1_000_000),
                        "endTimeUnixNano": str(start + 1_000_000 + dur),
                        "attributes": attrs,
                        "status": {"code": 2, "message": "429 rate limited"} if error else {},
                    }
                )
                count += 1
            doc = {
                "resourceSpans": [
                    {
                        "resource": {"attributes": [_attr("service.name", "bench-app")]},
                        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": out}],
                    }
                ]
            }
            text = json.dumps(doc, separators=(",", ":")) + "\n"
            fh.write(text)
            written += len(text)
            line_no += 1
    return count, written


def _env(project: Path) -> dict[str, str]:
    """Bytecode caching on (as an installed package has it), even where the environment turns it off."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(project / "pycache")
    return env


# Runs the CLI in a child process, then writes that process's peak RSS (RUSAGE_SELF) and the largest
# of its (finished) worker processes' (RUSAGE_CHILDREN) to stderr as the last line, with the CPU time
# (user + system) of each: the machine is shared, so wall times swing with its load; CPU times less.
_MEASURED = """
import json, resource, sys
from llmctl.cli.main import run
sys.argv = ["llmctl", "traces", "import", sys.argv[1]]
try:
    run()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
own = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"main_kb": own.ru_maxrss, "workers_kb": workers.ru_maxrss,
                  "main_cpu_s": own.ru_utime + own.ru_stime, "workers_cpu_s": workers.ru_utime + workers.ru_stime}),
      file=sys.stderr)
sys.exit(code)
"""


def run_import(project: Path, path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(path)], cwd=project, capture_output=True, text=True, env=_env(project)
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}): {proc.stderr}")
    peaks = json.loads(proc.stderr.strip().splitlines()[-1])
    return {
        "wall_s": wall,
        "main_rss_mb": peaks["main_kb"] / 1024,
        "workers_rss_mb": peaks["workers_kb"] / 1024,
        "main_cpu_s": peaks["main_cpu_s"],
        "workers_cpu_s": peaks["workers_cpu_s"],
        "stdout": proc.stdout.strip(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=None, help="LLM spans to generate (default 1,000,000)")
    ap.add_argument("--gigabytes", type=float, default=None, help="generate this many GB instead of --spans")
    ap.add_argument("--per-line", type=int, default=512, help="spans per ExportTraceServiceRequest line")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--reimport", choices=["yes", "no"], default="yes")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    size = int(args.gigabytes * 1e9) if args.gigabytes else None
    spans = None if size else (args.spans or 1_000_000)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        project = Path(tmp)
        (project / "llmctl.yaml").write_text("store: traces.duckdb\n", encoding="utf-8")
        path = project / "traces.otlp.jsonl"
        t = time.perf_counter()
        n, nbytes = generate(path, spans=spans, size=size, per_line=args.per_line, seed=args.seed)
        print(
            f"generated {n:,} LLM spans ({2 * n:,} spans with their app spans), {nbytes / 1e6:,.0f} MB "
            f"in {time.perf_counter() - t:.1f}s"
        )
        warm = project / "warmup.jsonl"
        generate(warm, spans=10, size=None, per_line=args.per_line, seed=args.seed + 1)
        run_import(project, warm)  # compiles the bytecode once, as an installed package has it
        first = run_import(project, path)
        print(
            f"import:   {first['wall_s']:.1f}s, peak RSS main {first['main_rss_mb']:.0f} MB, "
            f"workers {first['workers_rss_mb']:.0f} MB, {n / first['wall_s']:,.0f} spans/s, "
            f"CPU main {first['main_cpu_s']:.1f}s + workers {first['workers_cpu_s']:.1f}s  [{first['stdout']}]"
        )
        if args.reimport == "yes":
            again = run_import(project, path)
            print(
                f"reimport: {again['wall_s']:.1f}s, peak RSS main {again['main_rss_mb']:.0f} MB, "
                f"workers {again['workers_rss_mb']:.0f} MB, "
                f"CPU main {again['main_cpu_s']:.1f}s + workers {again['workers_cpu_s']:.1f}s  [{again['stdout']}]"
            )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {os.cpu_count()} CPUs, load average (1, 5, 15 min) {load}")
        if args.keep:
            print(f"kept {path}")
            input("press Enter to delete it")


if __name__ == "__main__":
    main()
