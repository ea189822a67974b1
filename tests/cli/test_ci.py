"""What `llmctl eval` does in CI: no silent pass without a config, `--changed-only` from a fingerprint
of everything a run depends on, a report even when nothing ran, dry runs, annotations, lint formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.clirun import run
from tests.gitrepo import JUDGE_PROMPT, GitRepo, pr_project
from tests.gitrepo import TICKET_PROMPT as PROMPT

CONFIG = """\
default_models: [demo]
models:
  demo:
    model: scripted
    responses: {"/(?s)BROKEN/": "no"}
    default: "ok"
    price: {input_per_1k: 1.0, output_per_1k: 2.0}
  grader:
    model: scripted
    default: '{"score": 1.0, "pass": true, "reason": "fine"}'
  unused: {model: scripted, default: "x"}
judge:
  model: grader
gate:
  quality: {min_pass_rate: 0.9, max_drop: 0.05}
  latency: {p95_max_increase: null}
"""

FILES = {
    "llmctl.yaml": CONFIG,
    ".gitignore": ".llmctl/\nreport.*\n",
    "prompts/ask.yaml": PROMPT,
    "checks.py": "def has_ok(output):\n    return 'ok' in output\n",
    "judges/strict.yaml": JUDGE_PROMPT,
    "evalsets/data/rows.jsonl": '{"id": "a", "ticket": "one"}\n{"id": "b", "ticket": "two"}\n',
    "evalsets/from_data.yaml": (
        "prompt: ask\nmodels: [demo]\n"
        "source: {path: data/rows.jsonl, columns: {id: id, vars: [ticket]}}\n"
        "evaluators:\n  - {type: python, function: 'checks.py:has_ok'}\n"
    ),
    "evalsets/judged.yaml": (
        "prompt: ask\nmodels: [demo]\n"
        "evaluators:\n  - {type: judge, rubric: 'fine?', prompt: judges/strict.yaml}\n"
        "cases:\n  - {id: j1, vars: {ticket: three}}\n"
    ),
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    return pr_project(tmp_path / "proj", FILES, monkeypatch)


def changed(repo: GitRepo, files: dict[str, str | None], capsys, monkeypatch) -> tuple[int, str, str]:
    repo.write(files)
    return run(
        ["eval", "--baseline", "base", "--changed-only", "-o", "report.md", "-o", "report.json"], capsys, monkeypatch
    )


def test_no_config_is_an_error_that_says_run_init(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (["eval"], ["lint"]):
        code, out, err = run(argv, capsys, monkeypatch)
        assert code == 2 and "no llmctl.yaml" in err and "llmctl init" in err, (argv, err)
        assert "PASSED" not in out + err


def test_a_gate_with_zero_checks_says_so(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    (tmp_path / "llmctl.yaml").write_text("default_models: [echo]\n")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts/ask.yaml").write_text(PROMPT)
    (tmp_path / "evalsets").mkdir()
    (tmp_path / "evalsets/e.yaml").write_text(
        "prompt: ask\ncases:\n  - {id: a, vars: {ticket: x}, assert: [{type: equals, value: nope}]}\n"
    )
    code, out, err = run(["eval", "-o", "r.md"], capsys, monkeypatch)
    assert code == 0, err
    assert "gate PASSED" not in out and "gate checked NOTHING" in out
    assert "llmctl: NOTHING CHECKED" in (tmp_path / "r.md").read_text()


def test_nothing_changed_skips_and_still_writes_the_report(repo, capsys, monkeypatch) -> None:
    Path("report.md").write_text("## ❌ llmctl: FAIL (stale)\n")
    code, out, err = changed(repo, {"README.md": "docs only\n"}, capsys, monkeypatch)
    assert code == 0, err
    assert "skipped from_data" in out and "skipped judged" in out and "no evalset affected" in out
    md = Path("report.md").read_text()
    assert "FAIL" not in md and "No evalset affected by this change" in md
    assert json.loads(Path("report.json").read_text())["skipped"] == ["from_data", "judged"]


@pytest.mark.parametrize(
    ("files", "evaluated", "reason"),
    [
        (
            {"evalsets/data/rows.jsonl": '{"id": "a", "ticket": "BROKEN"}\n'},
            "from_data",
            "evalsets/data/rows.jsonl changed",
        ),
        ({"checks.py": "def has_ok(output):\n    return False\n"}, "from_data", "checks.py changed"),
        ({"judges/strict.yaml": JUDGE_PROMPT + "# stricter\n"}, "judged", "judges/strict.yaml changed"),
        (
            {"llmctl.yaml": CONFIG.replace("input_per_1k: 1.0", "input_per_1k: 3.0")},
            None,
            "llmctl.yaml: models.demo.price.input_per_1k changed",
        ),
        (
            {"llmctl.yaml": CONFIG.replace('\'{"score": 1.0', '\'{"score": 0.9')},
            "judged",
            "llmctl.yaml: models.grader.default changed",
        ),
        (
            {"llmctl.yaml": CONFIG.replace("min_pass_rate: 0.9", "min_pass_rate: 0.5")},
            None,
            "llmctl.yaml: gate.quality.min_pass_rate changed",
        ),
    ],
    ids=["source-data", "python-module", "judge-prompt", "price", "judge-model", "gate"],
)
def test_changed_only_sees_every_dependency(repo, capsys, monkeypatch, files, evaluated, reason) -> None:
    code, out, err = changed(repo, files, capsys, monkeypatch)
    breaks = "rows.jsonl" in reason or "checks.py" in reason  # a BROKEN row / has_ok now always False
    assert code == (1 if breaks else 0), err
    ran = {"from_data", "judged"} if evaluated is None else {evaluated}
    for name in {"from_data", "judged"} - ran:
        assert f"skipped {name}" in out
    for name in ran:
        assert f"skipped {name}" not in out
    assert f"evaluated because: {reason}" in out.replace("\n", " ") or reason in out, out
    assert reason in Path("report.md").read_text().replace("\\", "")


def test_an_unused_model_alias_change_evaluates_nothing(repo, capsys, monkeypatch) -> None:
    code, out, _ = changed(repo, {"llmctl.yaml": CONFIG.replace('default: "x"', 'default: "y"')}, capsys, monkeypatch)
    assert code == 0 and "no evalset affected" in out


def test_dry_run_counts_calls_and_estimates_tokens_and_cost(repo, capsys, monkeypatch) -> None:
    repo.write({"prompts/ask.yaml": PROMPT.replace("Answer", "Reply")})
    code, out, err = run(
        ["eval", "--baseline", "base", "--changed-only", "--dry-run", "-o", "report.md"], capsys, monkeypatch
    )
    assert code == 0, err
    # 2 + 1 cases, candidate and baseline side each
    assert "dry run from_data: 4 call(s)" in out and "dry run judged: 2 call(s)" in out
    assert "6 call(s), about" in out and "no model was called" in out
    md = Path("report.md").read_text()
    assert "dry run (not evaluated)" in md and "6 call(s)" in md


def test_dry_run_fails_on_a_render_error(repo, capsys, monkeypatch) -> None:
    repo.write({"prompts/ask.yaml": PROMPT.replace("{{ ticket }}", "{{ ticket }} {{ missing }}")})
    code, _, err = run(["eval", "--dry-run"], capsys, monkeypatch)
    assert code == 2 and "missing" in err


def test_failing_evalsets_are_annotated_in_actions(repo, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = changed(repo, {"evalsets/data/rows.jsonl": '{"id": "a", "ticket": "BROKEN"}\n'}, capsys, monkeypatch)
    assert code == 1
    lines = [ln for ln in out.splitlines() if ln.startswith("::error ")]
    assert lines and lines[0].startswith("::error file=prompts/ask.yaml,line=1::llmctl: evalset from_data failed")


def test_lint_formats(repo, capsys, monkeypatch) -> None:
    code, out, _ = run(["lint", "--format", "json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["ok"] is True
    repo.write({"prompts/ask.yaml": PROMPT.replace("{{ ticket }}", "{{ ticket }} {{ undeclared }}")})
    code, out, err = run(["lint", "--format", "github"], capsys, monkeypatch)
    assert code == 2
    assert out.startswith("::error file=prompts/ask.yaml,line=5::variable 'undeclared' is used")
    assert "prompts/ask.yaml:5:" in err
    code, out, _ = run(["lint", "--format", "json"], capsys, monkeypatch)
    data = json.loads(out)
    assert code == 2 and data["ok"] is False and data["problems"][0]["file"] == "prompts/ask.yaml"
    code, _, err = run(["lint", "--format", "xml"], capsys, monkeypatch)
    assert code == 2 and "--format" in err


def test_annotation_escapes_untrusted_text() -> None:
    from llmctl.github import annotation

    text = annotation("bad\n::warning::injected 100%", file="a,b:c.yaml", line=3)
    assert "\n" not in text and "bad%0A::warning::" in text  # one line: a command only starts a line
    assert text.startswith("::error file=a%2Cb%3Ac.yaml,line=3::")
    assert "100%25" in text
