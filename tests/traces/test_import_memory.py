"""`llmctl traces import` in bounded memory: the main process's peak RSS does not grow with the file.

Each import runs in a fresh process (peak RSS is per process) with DuckDB's import memory limit at
64 MB and batches of 2 MB of the file, so that 4x the spans is well past both. Before the rows were
staged (one transaction open over the whole file), the process held every row: its peak grew with
the file, 2x from N to 4N here (and to 2.2 GB on the 1M-span benchmark).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = r"""
import json, resource, sys
from pathlib import Path
from llmctl.store import Store, _traces
from llmctl.traces import _import, import_files

n, folder = int(sys.argv[1]), Path(sys.argv[2])
_traces.IMPORT_MEMORY_LIMIT = "64MB"
_import.BATCH_BYTES = 2_000_000
_import.PARALLEL_MIN_BYTES = 1 << 40  # the main process reads: its own memory is what is measured
text = "x" * 1500
path = folder / f"t{n}.jsonl"
with path.open("w") as fh:
    for i in range(n):
        fh.write(json.dumps({
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"{i} {text}"}]},
            "response": {"id": f"c{i}", "choices": [{"message": {"role": "assistant", "content": f"{i} {text}"}}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 5}},
            "latency_ms": 5, "timestamp": "2026-11-01T10:00:00Z"}) + "\n")
store = Store(folder / f"s{n}.duckdb")
(_, counts), = import_files(store, [path])
print(json.dumps({"inserted": counts.inserted, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _peak_mb(n: int, folder: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(n), str(folder)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["inserted"] == n
    return float(doc["peak_kb"]) / 1024


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    n = 12_000  # ~40 MB of JSONL; 4n ~160 MB
    small = _peak_mb(n, tmp_path)
    large = _peak_mb(4 * n, tmp_path)
    # measured (2 shared cores): staged 274 MB -> 410 MB (DuckDB's 64 MB and the batches fill up by
    # about N, then it stays flat); one transaction open over the file: 352 MB -> 720 MB
    assert large < 1.7 * small, f"peak RSS {small:.0f} MB at {n} spans, {large:.0f} MB at {4 * n}"
