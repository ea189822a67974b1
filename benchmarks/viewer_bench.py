"""Viewer timing: a store with one run of N results (2 evaluators each); prints each page's time.

Run: python benchmarks/viewer_bench.py 10000  (in an empty folder; writes bench.duckdb there)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from starlette.testclient import TestClient

from llmctl.store import Store
from llmctl.viewer import create_app


def main(n: int) -> None:
    store = Store(Path("bench.duckdb"))
    rid = store.create_run(evalset="bench", config={}, git_commit=None, git_branch=None)
    with store.writer(rid) as w:
        for i in range(n):
            row = {
                "result_key": f"k{i}",
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
            }
            scores = [
                {"evaluator": "contains", "config": {"type": "contains", "value": "ok"}, "score": 1.0, "passed": True},
                {"evaluator": "judge", "config": {"type": "judge", "rubric": "r"}, "score": 0.0, "passed": i % 7 != 0},
            ]
            w.add(row, scores)
    store.finish_run(rid, "completed", {})
    client = TestClient(create_app(store, Path(".")), base_url="http://127.0.0.1")
    urls = ["/", f"/runs/{rid}", f"/runs/{rid}?filter=failed", f"/runs/{rid}?q=answer+42"]
    urls += [f"/runs/{rid}/cases/c5", f"/api/runs/{rid}/results"]
    for url in urls:
        start = time.perf_counter()
        resp = client.get(url)
        took = time.perf_counter() - start
        print(
            f"{url.replace(rid, 'RUN'):40s} {resp.status_code} {took * 1000:7.0f} ms {len(resp.content) / 1e6:6.2f} MB"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10000)
