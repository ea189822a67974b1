"""`llmctl eval` as a library: plan the calls, run them through one pipeline, finish each run.

from llmctl.run import EvalOptions, run_eval
outcome = run_eval(cfg, EvalOptions(evalsets=["summarize"], baseline="production"))
"""

from llmctl.run._runner import (
    EvalOptions,
    EvalOutcome,
    Listener,
    Progress,
    RunInfo,
    Runner,
    error_causes,
    exit_code_for,
    git_info,
    render_case,
    run_eval,
    summarize,
)

__all__ = [
    "EvalOptions",
    "EvalOutcome",
    "Listener",
    "Progress",
    "RunInfo",
    "Runner",
    "error_causes",
    "exit_code_for",
    "git_info",
    "render_case",
    "run_eval",
    "summarize",
]
