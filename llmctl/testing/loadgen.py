"""Load generator: ModelClient throughput and CPU per call, litellm vs native transport.

Starts the fake server (`llmctl.testing.server`) in its own process, then runs each
(transport, concurrency) pair in a fresh worker process, so imports and CPU time do
not mix, and prints a Markdown table (and JSON with --json):

    python -m llmctl.testing.loadgen --requests 2000 --concurrency 50,200 --latency-ms 100

Columns: requests/s (wall clock over the measured requests, after a warm-up),
client CPU ms per call (user+system time of the worker process / requests), server
CPU ms per call, latency p50/p95 and errors. `--server URL` uses a running server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from llmctl.types import ModelSpec

__all__ = ["main", "run_matrix", "run_one"]


def _proc_cpu_s(pid: int) -> float | None:
    """user+system CPU seconds of process `pid` (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, IndexError, ValueError):
        return None


async def _run(base_url: str, transport: str, concurrency: int, requests: int, warmup: int) -> dict[str, Any]:
    from llmctl.models import ModelClient

    spec = ModelSpec(
        name="bench",
        litellm_id="openai/fake-model",
        api_base=base_url,
        input_cost_per_1k=0.0005,
        output_cost_per_1k=0.0015,
        timeout=60.0,
        retries=0,
    )

    def messages(i: int) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": "You are a terse assistant."},
            {"role": "user", "content": f"request {i}: summarize the ticket about a late refund"},
        ]

    async with ModelClient(concurrency=concurrency, transport=transport) as client:
        route = await client.prepare(spec)
        await asyncio.gather(*(client.complete(spec, messages(-i - 1)) for i in range(warmup)))
        cpu0, t0 = time.process_time(), time.perf_counter()
        results = await asyncio.gather(*(client.complete(spec, messages(i)) for i in range(requests)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    latencies = sorted(r.latency_ms for r in results if r.error is None)
    errors = [r.error for r in results if r.error is not None]
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0
    return {
        "transport": transport,
        "route": route.kind,
        "concurrency": concurrency,
        "requests": requests,
        "wall_s": round(wall, 3),
        "req_per_s": round(requests / wall, 1),
        "client_cpu_ms_per_call": round(cpu * 1000 / requests, 3),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "latency_p95_ms": round(p95, 1),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def run_one(base_url: str, transport: str, concurrency: int, requests: int, warmup: int = 50) -> dict[str, Any]:
    """One measurement in this process."""
    return asyncio.run(_run(base_url, transport, concurrency, requests, warmup))


def _start_server(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "llmctl.testing.server", "--port", "0", "--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return proc, line.strip().split()[-1]


def run_matrix(
    transports: list[str],
    concurrencies: list[int],
    requests: int,
    latency_ms: float,
    server_url: str | None = None,
    warmup: int = 50,
) -> list[dict[str, Any]]:
    """Every (transport, concurrency) pair, each in a fresh worker process."""
    server: subprocess.Popen[str] | None = None
    if server_url is None:
        server, server_url = _start_server(latency_ms)
    rows: list[dict[str, Any]] = []
    try:
        for transport in transports:
            for concurrency in concurrencies:
                cpu_before = _proc_cpu_s(server.pid) if server else None
                worker = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "llmctl.testing.loadgen",
                        "--worker",
                        "--server",
                        server_url,
                        "--transports",
                        transport,
                        "--concurrency",
                        str(concurrency),
                        "--requests",
                        str(requests),
                        "--warmup",
                        str(warmup),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = json.loads(worker.stdout.strip().splitlines()[-1])
                cpu_after = _proc_cpu_s(server.pid) if server else None
                if cpu_before is not None and cpu_after is not None:
                    row["server_cpu_ms_per_call"] = round((cpu_after - cpu_before) * 1000 / (requests + warmup), 3)
                rows.append(row)
                print(_format_row(row), file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    return rows


_COLUMNS = [
    ("transport", "transport"),
    ("concurrency", "concurrency"),
    ("requests", "requests"),
    ("req_per_s", "req/s"),
    ("client_cpu_ms_per_call", "client CPU ms/call"),
    ("server_cpu_ms_per_call", "server CPU ms/call"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("errors", "errors"),
]


def _format_row(row: dict[str, Any]) -> str:
    return "| " + " | ".join(str(row.get(key, "")) for key, _ in _COLUMNS) + " |"


def format_table(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(title for _, title in _COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in _COLUMNS) + "|"
    return "\n".join([head, rule, *(_format_row(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmctl.testing.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--transports", default="litellm,native", help="comma-separated: litellm, native")
    parser.add_argument("--concurrency", default="50,200")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--server", default=None, help="base URL of a running server (default: start one)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.worker:
        row = run_one(args.server, transports[0], concurrencies[0], args.requests, args.warmup)
        row["transport"] = transports[0]
        print(json.dumps(row))
        return 0
    rows = run_matrix(transports, concurrencies, args.requests, args.latency_ms, args.server, args.warmup)
    print(f"latency {args.latency_ms:g} ms, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
