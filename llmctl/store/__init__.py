"""The DuckDB store: runs, results, scores, prompt versions and the response cache.

    from llmctl.store import ResultRow, ScoreRow, Store
    store = Store(Path(".llmctl/llmctl.duckdb"))
    run_id = store.create_run(evalset="summarize", config={}, git_commit=sha, git_branch="main")
    with store.writer(run_id) as w:
        w.add(ResultRow(prompt="summarize", case_id="c1", model="echo", output="..."), [ScoreRow("contains")])
    store.finish_run(run_id, "completed", summary)

The file is opened per operation and closed again, so several llmctl processes
can share it; the tables are the migrations in llmctl/store/_schema.py.
"""

from llmctl.store._keys import new_run_id, result_key
from llmctl.store._monitor import monitor_daily, monitor_daily_sample, monitor_groups, monitor_sample
from llmctl.store._records import JSONObject, JSONValue, JudgeCallRow, ResultRow, RunConfig, RunRecord, ScoreRow
from llmctl.store._schema import MIGRATIONS, RUN_STATUSES, SCHEMA_VERSION
from llmctl.store._store import EXPORT_FORMATS, ExportFormat, Store
from llmctl.store._traces import (
    TRACE_FIELDS,
    TRACE_SCHEMA,
    ImportCounts,
    TraceBatch,
    import_traces,
    iter_traces,
    newest_trace_ts,
    query_traces,
    trace_count,
)
from llmctl.store._writer import RunWriter

__all__ = [
    "EXPORT_FORMATS",
    "MIGRATIONS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "TRACE_FIELDS",
    "TRACE_SCHEMA",
    "ExportFormat",
    "ImportCounts",
    "JSONObject",
    "JSONValue",
    "JudgeCallRow",
    "ResultRow",
    "RunConfig",
    "RunRecord",
    "RunWriter",
    "ScoreRow",
    "Store",
    "TraceBatch",
    "import_traces",
    "iter_traces",
    "monitor_daily",
    "monitor_daily_sample",
    "monitor_groups",
    "monitor_sample",
    "new_run_id",
    "newest_trace_ts",
    "query_traces",
    "result_key",
    "trace_count",
]
