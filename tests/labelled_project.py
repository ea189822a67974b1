"""A project with a judge whose verdicts are known, for the labels, calibration and viewer tests."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitrepo import GitRepo, prompt_yaml

# The judge passes tickets 0-4 and fails 5-9. Human labels below make (positive = pass)
# tp=4 (0-3), fp=1 (4), fn=2 (5, 6), tn=3 (7-9).
HUMAN_PASS = {0, 1, 2, 3, 5, 6}

YAML = """\
default_models: [demo]
models:
  demo:
    model: scripted
    responses:
      "/Ticket: 9/": "<script>document.title='PWNED';document.body.setAttribute('data-pwned','1')</script>"
    default: "answer ok"
  grader:
    model: scripted
    responses:
      "/Ticket: [0-4]\\\\b/": '{"score": 1, "pass": true, "reason": "fine"}'
    default: '{"score": 0, "pass": false, "reason": "not fine"}'
judge: {model: grader}
gate:
  quality: {min_pass_rate: 0.0, max_drop: 1.0}
  latency: {p95_max_increase: null}
"""


def evalset(n: int = 10, extra: str = "") -> str:
    cases = "".join(f"  - id: c{i}\n    vars: {{ticket: '{i}'}}\n" for i in range(n))
    return (
        "prompt: summarize\nmodels: [demo]\n"
        "evaluators:\n  - {type: contains, value: ok}\n  - {type: judge, rubric: 'Is it a fine answer?'}\n"
        f"{extra}cases:\n{cases}"
    )


def make(root: Path, extra: str = "") -> GitRepo:
    repo = GitRepo.init(root)
    repo.commit(
        {
            "llmctl.yaml": YAML,
            ".gitignore": ".llmctl/\n",
            "prompts/summarize.yaml": prompt_yaml(include=False),
            "evalsets/support.yaml": evalset(extra=extra),
        },
        "initial",
    )
    return repo


def evaluate(root: Path, evalset_name: str = "support") -> tuple[str, int]:
    from llmctl.config import load_config
    from llmctl.run import EvalOptions, run_eval

    cfg = load_config(root)
    outcome = run_eval(cfg, EvalOptions(evalsets=[evalset_name]))
    return outcome.runs[0].run_id, outcome.exit_code


def write_csv(path: Path) -> Path:
    lines = ["case_id,label,note"]
    for i in range(10):
        lines.append(f"c{i},{'pass' if i in HUMAN_PASS else 'fail'},note {i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
