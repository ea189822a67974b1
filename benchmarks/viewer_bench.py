"""Viewer timing: a store with one run of N results (2 evaluators each); prints each page's time.

Run: python benchmarks/viewer_bench.py 10000  (in an empty folder; writes bench.duckdb there)
"""

import sys, time
from pathlib import Path
from llmctl.store import Store
from llmctl.viewer import create_app
from starlette.testclient import TestClient

n = int(sys.argv[1])
store = Store(Path("bench.duckdb"))
rid = store.create_run(evalset="bench", config={}, git_commit=None, git_branch=None)
with store.writer(rid) as w:
    for i in range(n):
        key = f"k{i}"
        w.add(
            {
                "result_key": key,
                "prompt": "p",
                "version_hash": "sha256:ab",
                "case_id": f"c{i}",
                "model": "m",
                "repeat_index": 0,
                "input": [{"role": "user", "content": f"ticket {i}"}],
                "expected": "ok",
                "output": f"answer {i} " * 20,
                "passed": i % 7 != 0,
                "score": 1.0,
            },
            [
                {
                    "evaluator": "contains",
                    "config": {"type": "contains", "value": "ok"},
                    "score": 1.0,
                    "passed": True,
                    "reason": "",
                },
                {
                    "evaluator": "judge",
                    "config": {"type": "judge", "rubric": "r"},
                    "score": 0.0,
                    "passed": i % 7 != 0,
                    "reason": "x",
                },
            ],
        )
store.finish_run(rid, "completed", {})
c = TestClient(create_app(store, Path(".")), base_url="http://127.0.0.1")
for url in [
    "/",
    f"/runs/{rid}",
    f"/runs/{rid}?filter=failed",
    f"/runs/{rid}?q=answer+42",
    f"/runs/{rid}/cases/c5",
    f"/api/runs/{rid}/results",
]:
    t = time.perf_counter()
    r = c.get(url)
    dt = time.perf_counter() - t
    print(f"{url.replace(rid, 'RUN'):40s} {r.status_code} {dt * 1000:7.0f} ms {len(r.content) / 1e6:6.2f} MB")
