"""Shared report formatting: timestamps and the report header."""

from __future__ import annotations


def test_fmt_time_is_utc_iso_with_z() -> None:
    from datetime import datetime, timedelta, timezone

    from llmctl.reports._format import fmt_time

    assert fmt_time(datetime(2026, 12, 2, 6, 15, 9, 123456)) == "2026-12-02T06:15:09Z"  # the store's naive UTC
    aware = datetime(2026, 12, 2, 8, 15, 9, tzinfo=timezone(timedelta(hours=2)))
    assert fmt_time(aware) == "2026-12-02T06:15:09Z"
    assert fmt_time("2026-12-02 06:15:09.5") == "2026-12-02T06:15:09Z"
    assert fmt_time(None) == "—" and fmt_time("not a time") == "not a time"


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
