"""`llmctl eval` as a library: plan the calls, run them through one pipeline, finish each run.

from llmctl.run import EvalOptions, run_eval
outcome = run_eval(cfg, EvalOptions(evalsets=["summarize"], baseline="production"))
"""

from llmctl.run._finalize import EvalOutcome, RunInfo, error_causes, exit_code_for, finalize
from llmctl.run._pipeline import Listener, Pipeline, Progress
from llmctl.run._plan import EvalOptions, Job, Plan, Planner, Side, render_case
from llmctl.run._runner import Runner, git_info, run_eval

__all__ = [
    "EvalOptions",
    "EvalOutcome",
    "Job",
    "Listener",
    "Pipeline",
    "Plan",
    "Planner",
    "Progress",
    "RunInfo",
    "Runner",
    "Side",
    "error_causes",
    "exit_code_for",
    "finalize",
    "git_info",
    "render_case",
    "run_eval",
]
