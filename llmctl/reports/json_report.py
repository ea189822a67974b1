"""JSON report: the run, its summary, its verdict and every result; `read_json_report` loads it back.

Version 2: `summary` is the run summary as stored (llmctl.summary: `groups`, `errors`,
`spend`); version 1 had a list of rows with other key names, still read."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.reports._data import ReportData
from llmctl.summary import GroupSummary, RunSummary
from llmctl.types import CaseOutcome, Usage
from llmctl.verdict import Verdict

FORMAT = "llmctl-report"
VERSION = 2
# version 1 summary rows: their key -> the run summary's
_V1_KEYS = {
    "results": "n",
    "pass_rate_interval": "pass_rate_ci",
    "mean_cost_usd": "cost_usd_mean",
    "total_cost_usd": "cost_usd_total",
    "latency_p50_ms": "latency_p50",
    "latency_p95_ms": "latency_p95",
}


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def report_dict(data: ReportData) -> dict[str, Any]:
    doc: dict[str, Any] = _clean(
        {
            "format": FORMAT,
            "version": VERSION,
            "status": data.status_word,
            "run": data.run,
            # the run summary's figures; the verdict (and whether it passed) is `verdict` below
            "summary": {k: v for k, v in data.run_summary.to_dict().items() if k not in ("verdict", "gate_passed")},
            "spend": data.spend.to_dict(),
            "verdict": data.verdict.to_dict() if data.verdict is not None else None,
            "results": [_outcome_dict(o) for o in data.outcomes],
        }
    )
    return doc


def _outcome_dict(o: CaseOutcome) -> dict[str, Any]:
    """A result as the report's JSON: its fields, the token counts flat in place of `usage`
    (the report's format from before `Usage`: `prompt_tokens`, ... between `tool_calls` and `judge_calls`)."""
    out: dict[str, Any] = {}
    for name, value in asdict(o).items():
        if name == "usage":
            out.update(value)  # asdict made the Usage a dict of its five counts, in their order
        else:
            out[name] = value
    return out


def render_json(data: ReportData) -> str:
    return json.dumps(report_dict(data), indent=2, ensure_ascii=False, default=fmt.json_default, allow_nan=False) + "\n"


def report_from_dict(doc: dict[str, Any]) -> ReportData:
    if doc.get("format") != FORMAT:
        raise ValueError("not an llmctl JSON report (missing format: llmctl-report)")
    names = {f.name for f in fields(CaseOutcome)} - {"usage"}
    outcomes = [
        CaseOutcome(
            **{k: v for k, v in r.items() if k in names},
            usage=Usage.of(r),
        )
        for r in doc.get("results", [])
    ]
    verdict = Verdict.from_dict(doc["verdict"]) if doc.get("verdict") else None
    raw = doc.get("summary")
    if isinstance(raw, list):  # version 1
        groups = [GroupSummary.from_dict({_V1_KEYS.get(k, k): v for k, v in r.items()}) for r in raw]
        summary = RunSummary(groups=groups, spend=RunSummary.from_dict({"spend": doc.get("spend")}).spend)
    else:
        summary = RunSummary.from_dict(raw)
    summary.verdict = verdict
    return ReportData(run=dict(doc.get("run") or {}), outcomes=outcomes, verdict=verdict, summary=summary)


def read_json_report(path: str | Path) -> ReportData:
    """Load a report written by `write_report(... .json)`."""
    return report_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
