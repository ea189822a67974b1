"""Can DuckDB's own JSON reader parse the benchmark's OTLP file within the import's memory limit?

The candidate fast path for `llmctl traces import` (issue 24): `read_json` (the json extension built
into the duckdb wheel, nothing downloaded) unnesting resourceSpans / scopeSpans / spans and counting
the spans and attributes, under a memory limit. It prints the outcome per limit; an "Out of Memory"
means the fast path cannot keep the import's memory flat on files whose lines hold many spans (the
Collector's file exporter writes a whole batch, here 512 spans and ~540 KB, a line; DuckDB reads
2,048 lines a vector).

    .venv/bin/python benchmarks/traces_duckdb_json.py --spans 100000 --limits 256MB 1GB
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
from traces_import import generate

SPAN = (
    "STRUCT(traceId VARCHAR, spanId VARCHAR, parentSpanId VARCHAR, name VARCHAR, startTimeUnixNano VARCHAR, "
    "endTimeUnixNano VARCHAR, attributes STRUCT(key VARCHAR, value JSON)[], events JSON, status JSON)"
)
COLUMNS = (
    "{resourceSpans: 'STRUCT(resource STRUCT(attributes STRUCT(key VARCHAR, value JSON)[]), "
    f"scopeSpans STRUCT(spans {SPAN}[])[])[]'}}"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=100_000)
    ap.add_argument("--per-line", type=int, default=512)
    ap.add_argument("--limits", nargs="+", default=["256MB", "1GB"])
    args = ap.parse_args()
    print(duckdb.sql("SELECT extension_name, loaded FROM duckdb_extensions() WHERE extension_name = 'json'").fetchall())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.otlp.jsonl"
        n, size = generate(path, spans=args.spans, size=None, per_line=args.per_line, seed=7)
        print(f"{n:,} LLM spans, {size / 1e6:,.0f} MB, {args.per_line} spans a line")
        for limit in args.limits:
            con = duckdb.connect()
            con.execute(f"SET memory_limit = '{limit}'")
            con.execute("SET preserve_insertion_order = false")
            query = f"""
                WITH lines AS (SELECT resourceSpans FROM read_json('{path}', format = 'newline_delimited',
                                 columns = {COLUMNS}, maximum_object_size = 268435456)),
                     rs AS (SELECT unnest(resourceSpans) AS rs FROM lines),
                     ss AS (SELECT unnest(rs.scopeSpans) AS ss FROM rs),
                     sp AS (SELECT unnest(ss.spans) AS s FROM ss)
                SELECT count(*), sum(len(s.attributes)) FROM sp
            """
            started = time.perf_counter()
            try:
                spans, attributes = con.execute(query).fetchone() or (0, 0)
                print(
                    f"memory_limit {limit}: {spans:,} spans, {attributes:,} attributes in {time.perf_counter() - started:.1f}s"
                )
            except duckdb.Error as exc:
                print(f"memory_limit {limit}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            con.close()


if __name__ == "__main__":
    main()
