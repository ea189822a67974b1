"""The report header (the formats themselves: tests/test_fmt.py)."""

from __future__ import annotations


def test_report_header_names_commit_branch_baseline_and_start() -> None:
    from datetime import datetime

    from llmctl.reports._data import ReportData

    data = ReportData(
        run={
            "id": "r1",
            "evalset": "qa",
            "git_commit": "0123456789abcdef",
            "git_branch": "feature",
            "baseline_run_id": "r0",
            "config": {"baseline": "origin/main"},
            "started_at": datetime(2026, 12, 2, 6, 15, 9),
        },
        outcomes=[],
    )
    assert data.meta() == [
        ("evalset", "qa"),
        ("run", "r1"),
        ("commit", "0123456789ab"),
        ("branch", "feature"),
        ("baseline", "origin/main (run r0)"),
        ("started", "2026-12-02T06:15:09Z"),
    ]
