"""The context a report needs beside its results: which baseline it compares (ref, run, version
hashes), and each case's vars and expected value. Read from the store and the evalset file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmctl.errors import LlmctlError


def _versions(store: Any, run_id: str) -> dict[str, list[str]]:
    rows = store.query(
        "SELECT prompt, list(DISTINCT version_hash ORDER BY version_hash) FROM results WHERE run_id = ? "
        "GROUP BY prompt ORDER BY prompt",
        [run_id],
    )
    return {str(p): [str(h) for h in hashes if h] for p, hashes in rows}


def report_context(store: Any, run: dict[str, Any], root: Path | None = None) -> dict[str, Any]:
    """`{"baseline_ref", "baseline_run", "versions", "baseline_versions", "cases": {id: {vars, expected}}}`
    (a case's `expected_tool_calls` and scripted `user_turns` too, where its evalset has them).

    `vars` come from the evalset file as it is now (the store keeps the rendered messages, not
    the vars); they are left out for a case the file no longer has.
    """
    run_id = str(run.get("id") or "")
    config = run.get("config") or {}
    baseline_run = run.get("baseline_run_id")
    ctx: dict[str, Any] = {
        "baseline_ref": config.get("baseline"),
        "baseline_run": baseline_run,
        "versions": _versions(store, run_id) if run_id else {},
        "baseline_versions": _versions(store, str(baseline_run)) if baseline_run else {},
        "cases": {},
    }
    cases: dict[str, dict[str, Any]] = {}
    for case_id, expected in store.query(
        "SELECT case_id, any_value(expected)::VARCHAR FROM results WHERE run_id = ? GROUP BY case_id", [run_id]
    ):
        try:
            value = json.loads(expected) if expected is not None else None
        except ValueError:
            value = expected
        cases[str(case_id)] = {"expected": value}
    path = config.get("evalset_path")
    if root is not None and path:
        try:
            from llmctl.evalset import load_evalset
            from llmctl.images import redact

            ev = load_evalset(root / str(path), root)
            for case in ev.cases():
                if case.id in cases:
                    cases[case.id]["vars"] = redact(case.vars)  # a data URL shows as a placeholder
                    if case.expected_tool_calls is not None:
                        cases[case.id]["expected_tool_calls"] = case.expected_tool_calls
                    if case.turns:
                        cases[case.id]["user_turns"] = list(case.turns)  # the scripted user messages
        except (LlmctlError, OSError):
            pass  # the evalset moved or no longer parses: the report shows expected values only
    ctx["cases"] = cases
    return ctx
