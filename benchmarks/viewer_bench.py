"""Viewer at scale: two runs of N results each (2 evaluators a result, 1 in 7 failing, the second
run with flips); every page and API call timed against a real `uvicorn` server.

Each URL gets a fresh server process, so its peak RSS (VmHWM) is what serving that one request
took, imports included; one warm-up request (`/api/runs`) goes first, as a long-lived viewer has
its imports and first store open behind it. While the request runs, a tiny one (`/static/viewer.css`) is sent 50 ms
later: its latency shows whether the big one blocks the event loop.

Run: python benchmarks/viewer_bench.py 100000 [--dir DIR] [--repeat 3]   (default DIR: a temp folder; the store
     is built once and reused when DIR already has one of that size)
Targets (issue 22): every page and API call <= 1 s and <= 300 MB RSS at 100k results per run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MAX_S, MAX_MB = 1.0, 300.0

SERVER = """
import sys, uvicorn
from pathlib import Path
from llmctl.store import Store
from llmctl.viewer import create_app
root = Path(sys.argv[1])
app = create_app(Store(root / "bench.duckdb"), root)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def build(path: Path, n: int) -> tuple[str, str]:
    from llmctl.store import ResultRow, ScoreRow, Store

    store = Store(path)
    ids = []
    for side in ("a", "b"):
        rid = store.create_run(run_id=f"bench-{side}", evalset="bench", config={}, git_commit=None, git_branch=None)
        with store.writer(rid) as w:
            for i in range(n):
                passed = i % 7 != 0 if side == "a" else i % 7 != 0 and i % 11 != 0  # b: flips
                row = ResultRow(
                    result_key=f"k{i}",
                    prompt="p",
                    version_hash="sha256:ab" if side == "a" else "sha256:cd",
                    case_id=f"c{i}",
                    model="m",
                    repeat_index=0,
                    input=[{"role": "user", "content": f"ticket {i}"}],
                    expected="ok",
                    output=f"answer {i} " * 20,
                    passed=passed,
                    score=1.0,
                )
                scores = [
                    ScoreRow("contains", config={"type": "contains", "value": "ok"}, score=1.0, passed=True),
                    ScoreRow("judge", config={"type": "judge", "rubric": "r"}, score=float(passed), passed=passed),
                ]
                w.add(row, scores)
        store.finish_run(rid, "completed", {})
        ids.append(rid)
    return ids[0], ids[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, url: str, timeout: float = 300) -> tuple[int, int, float]:
    start = time.perf_counter()
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    con.request("GET", url, headers={"Host": f"127.0.0.1:{port}"})
    resp = con.getresponse()
    size = 0
    while chunk := resp.read(1 << 16):
        size += len(chunk)
    con.close()
    return resp.status, size, time.perf_counter() - start


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(root: Path, url: str, repeat: int) -> tuple[int, float, float, float, float]:
    """(status, median seconds, MB sent, peak RSS MB, slowest tiny request seconds) for one URL,
    asked `repeat` times of a fresh server."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(root), str(port)])
    try:
        for _ in range(600):
            try:
                _get(port, "/static/viewer.css", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        _get(port, "/api/runs")  # warm up: the first store open and imports are not the page's cost
        tiny: list[float] = []

        def poke() -> None:
            time.sleep(0.05)
            tiny.append(_get(port, "/static/viewer.css")[2])

        times, status, size = [], 0, 0
        for _ in range(repeat):
            t = threading.Thread(target=poke)
            t.start()
            status, size, took = _get(port, url)
            t.join()
            times.append(took)
        return status, statistics.median(times), size / 1e6, _hwm_mb(proc.pid), max(tiny, default=float("nan"))
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=10000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="requests per URL (the median is shown)")
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    db = root / "bench.duckdb"
    stamp = root / f"built-{args.n}"
    if not stamp.exists():
        db.unlink(missing_ok=True)
        start = time.perf_counter()
        build(db, args.n)
        stamp.touch()
        print(f"built 2 runs x {args.n} results in {time.perf_counter() - start:.0f} s ({root})", flush=True)
    a, b = "bench-a", "bench-b"
    last = (args.n - 1) // 500 + 1
    urls = [
        "/",
        f"/runs/{b}",
        f"/runs/{b}?filter=failed",
        f"/runs/{b}?q=answer+42",
        f"/runs/{b}/cases/c5",
        f"/compare/{a}/{b}",
        f"/compare/{a}/{b}?page={last}",
        f"/compare/{a}/{b}?filter=changed",
        f"/compare/{a}/{b}/review",
        "/prompts/p",
        "/api/runs",
        f"/api/runs/{b}",
        f"/api/runs/{b}/results",
        f"/api/runs/{b}/cases/c5",
        f"/api/compare/{a}/{b}",
        "/api/prompts/p",
    ]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    print(f"{'url':36s} {'status':>6s} {'time':>8s} {'sent':>9s} {'peak RSS':>9s} {'tiny req':>9s}  ok?")
    bad = 0
    for url in urls:
        status, took, mb, rss, tiny = measure(root, url, args.repeat)
        ok = status == 200 and took <= MAX_S and rss <= MAX_MB and tiny <= MAX_S
        bad += not ok
        print(f"{url:36s} {status:6d} {took * 1000:6.0f} ms {mb:6.2f} MB {rss:6.0f} MB {tiny * 1000:6.0f} ms  "
              f"{'yes' if ok else 'NO'}", flush=True)  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"targets: <= {MAX_S:g} s, <= {MAX_MB:g} MB peak RSS, tiny request <= {MAX_S:g} s; {bad} URL(s) missed")
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
