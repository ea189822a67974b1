"""A separate OS process for the store's concurrency and crash tests.

python store_worker.py write PATH COUNT BATCH    create a run, write COUNT results, print its id
python store_worker.py forever PATH BATCH        write until killed; prints "started" after a flush
python store_worker.py hold PATH SECONDS         hold the file open (and locked) for SECONDS
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from store_helpers import new_run, result_row, score_rows


def main(argv: list[str]) -> None:
    mode, path = argv[0], Path(argv[1])
    if mode == "hold":
        import duckdb

        con = duckdb.connect(str(path))
        print("held", flush=True)
        time.sleep(float(argv[2]))
        con.close()
        return

    from llmctl.store import Store

    store = Store(path, lock_timeout=30)
    rid = new_run(store)
    if mode == "write":
        count, batch = int(argv[2]), int(argv[3])
        with store.writer(rid, batch_rows=batch, flush_interval=0.02) as w:
            for i in range(count):
                w.add(result_row(i), score_rows(i))
        print(rid, flush=True)
    elif mode == "forever":
        batch = int(argv[2])
        w = store.writer(rid, batch_rows=batch, flush_interval=0.01)
        i = 0
        while True:
            w.add(result_row(i), score_rows(i))
            i += 1
            if i == batch * 2:
                w.flush()
                print("started", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
