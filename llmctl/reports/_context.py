"""The context a report needs beside its results: which baseline it compares (ref, run, version
hashes), and each case's vars and expected value. Read from the store and the evalset file."""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmctl.errors import LlmctlError
from llmctl.store._queries import expected_values, prompt_versions

if TYPE_CHECKING:
    from llmctl.store import RunRecord, Store


def report_context(store: Store, run: RunRecord, root: Path | None = None) -> dict[str, Any]:
    """`{"baseline_ref", "baseline_run", "versions", "baseline_versions", "cases": {id: {vars, expected}}}`
    (a case's `expected_tool_calls` and scripted `user_turns` too, where its evalset has them).

    `vars` come from the evalset file as it is now (the store keeps the rendered messages, not
    the vars); they are left out for a case the file no longer has.
    """
    run_id = run.id
    config = run.config
    baseline_run = run.baseline_run_id
    ctx: dict[str, Any] = {
        "baseline_ref": config.get("baseline"),
        "baseline_run": baseline_run,
        "versions": prompt_versions(store, run_id) if run_id else {},
        "baseline_versions": prompt_versions(store, str(baseline_run)) if baseline_run else {},
        "cases": {},
    }
    cases: dict[str, dict[str, Any]] = {
        case_id: {"expected": value} for case_id, value in expected_values(store, run_id).items()
    }
    for case_id, view in evalset_cases(root, config.get("evalset_path"), cases).items():
        cases[case_id].update(view)
    ctx["cases"] = cases
    return ctx


def evalset_cases(root: Path | None, path: Any, wanted: Container[str]) -> dict[str, dict[str, Any]]:
    """`{id: {vars, expected_tool_calls?, user_turns?}}` of the `wanted` cases of the evalset file at
    `path` (relative to `root`) as it is now; {} when there is no file or it no longer parses."""
    if root is None or not path:
        return {}
    from llmctl.evalset import load_evalset
    from llmctl.images import redact

    found: dict[str, dict[str, Any]] = {}
    try:
        for case in load_evalset(root / str(path), root).cases():
            if case.id not in wanted:
                continue
            view: dict[str, Any] = {"vars": redact(case.vars)}  # a data URL shows as a placeholder
            if case.expected_tool_calls is not None:
                view["expected_tool_calls"] = case.expected_tool_calls
            if case.turns:
                view["user_turns"] = list(case.turns)  # the scripted user messages
            found[case.id] = view
    except (LlmctlError, OSError):
        pass  # the evalset moved or no longer parses: the report shows the stored values only
    return found
