"""The reads of `llmctl monitor` and the viewer's `/monitor` over the `traces` table.

llmctl.traces._monitor does the statistics and the shaping; these are its statements. Windows are
half-open on the left: `lo < ts <= hi`. `prompt=None` means every prompt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from llmctl.store._store import Store
from llmctl.store._traces import query_traces

_GROUP_SQL = """
SELECT prompt, model, (ts > ?) AS in_window,
       count(*) AS calls,
       count(error) AS errors,
       sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)) FILTER (WHERE cost_usd IS NOT NULL) AS tokens,
       sum(cost_usd) AS cost,
       count(cost_usd) AS priced,
       list(latency_ms) FILTER (WHERE error IS NULL AND latency_ms IS NOT NULL) AS latencies,
       list(cost_usd) FILTER (WHERE cost_usd IS NOT NULL) AS costs,
       list(cost_usd * 1000.0 / (coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)))
           FILTER (WHERE cost_usd IS NOT NULL AND coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0) > 0)
           AS per_1k
FROM traces
WHERE ts > ? AND ts <= ? AND (? IS NULL OR prompt = ?)
GROUP BY ALL
"""

_DAILY_SQL = """
SELECT prompt, model, date_trunc('day', ts) AS day, version,
       count(*) AS calls, avg(CASE WHEN error IS NULL THEN 0.0 ELSE 1.0 END) AS error_rate,
       quantile_cont(latency_ms, 0.5) FILTER (WHERE error IS NULL) AS p50,
       quantile_cont(latency_ms, 0.95) FILTER (WHERE error IS NULL) AS p95,
       sum(cost_usd) AS cost, sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0))
           FILTER (WHERE cost_usd IS NOT NULL) AS tokens
FROM traces
WHERE ts > ? AND ts <= ? AND (? IS NULL OR prompt = ?)
GROUP BY ALL ORDER BY day
"""

_SAMPLE_SQL = (
    "SELECT * FROM traces WHERE prompt IS NOT DISTINCT FROM ? AND model IS NOT DISTINCT FROM ? "
    "AND ts > ? AND ts <= ? AND error IS NULL ORDER BY md5(id || ?) LIMIT ?"
)

_DAILY_SAMPLE_SQL = """
SELECT * EXCLUDE (rn) FROM (
    SELECT *, strftime(date_trunc('day', ts), '%Y-%m-%d') AS day,
           row_number() OVER (PARTITION BY prompt, model, date_trunc('day', ts) ORDER BY md5(id || ?)) AS rn
    FROM traces
    WHERE ts > ? AND ts <= ? AND error IS NULL AND (? IS NULL OR prompt = ?)
) WHERE rn <= ?
"""


def monitor_groups(
    store: Store, reference_start: datetime, window_start: datetime, end: datetime, prompt: str | None = None
) -> list[dict[str, Any]]:
    """Per prompt x model and side (`in_window`: window_start < ts <= end, else the reference
    reference_start < ts <= window_start): calls, errors, tokens and cost of the priced calls,
    priced calls, and the lists of latencies (successful calls), costs and costs per 1k tokens."""
    return query_traces(store, _GROUP_SQL, [window_start, reference_start, end, prompt, prompt])


def monitor_daily(store: Store, start: datetime, end: datetime, prompt: str | None = None) -> list[dict[str, Any]]:
    """Per prompt x model x day x version (by day): calls, error rate, latency p50/p95 of the
    successful calls, cost and tokens of the priced calls."""
    return query_traces(store, _DAILY_SQL, [start, end, prompt, prompt])


def monitor_sample(
    store: Store, prompt: str | None, model: str | None, lo: datetime, hi: datetime, seed: str, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` successful traces of one prompt x model in lo < ts <= hi, a seeded sample
    (the same seed and traces give the same sample)."""
    return query_traces(store, _SAMPLE_SQL, [prompt, model, lo, hi, seed, limit])


def monitor_daily_sample(
    store: Store, seed: str, lo: datetime, hi: datetime, prompt: str | None, per_day: int
) -> list[dict[str, Any]]:
    """Up to `per_day` successful traces per prompt x model and day in lo < ts <= hi (a seeded
    sample), each with its `day` as YYYY-MM-DD."""
    return query_traces(store, _DAILY_SAMPLE_SQL, [seed, lo, hi, prompt, prompt, per_day])
