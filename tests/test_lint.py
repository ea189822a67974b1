"""`lint_project`: every problem of prompts and evalsets, each with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.config import load_config
from llmctl.lint import lint_project

REPO = Path(__file__).resolve().parent.parent


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def lint(root: Path, files: dict[str, str]) -> list[str]:
    write(root, {"llmctl.yaml": "default_models: [echo]\njudge: {model: echo}\n", **files})
    return [p.located() for p in lint_project(load_config(root)).problems]


P = "inputs: {x: {type: string}}\ntemplate: 'hi {{ x }}'\n"


def test_repo_example_suite_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    report = lint_project(load_config(REPO))
    assert report.ok, [p.located() for p in report.problems]
    assert report.prompts >= 3 and report.evalsets >= 3


def test_clean_project(tmp_path: Path) -> None:
    assert lint(tmp_path, {"prompts/p.yaml": P, "evalsets/e.yaml": "prompt: p\ncases: [{vars: {x: a}}]\n"}) == []


def test_collects_every_problem(tmp_path: Path) -> None:
    problems = lint(
        tmp_path,
        {
            "prompts/a.yaml": "template: '{{ who }} {{ what }}'\n",
            "prompts/b.yaml": "template: hi\nfoo: 1\n",
            "evalsets/e.yaml": "prompt: a\ncases:\n  - vars: {}\n    assert: [{type: nope}]\n",
        },
    )
    assert problems[0].startswith("prompts/a.yaml:1: variable 'what'") or problems[0].startswith(
        "prompts/a.yaml:1: variable 'who'"
    )
    joined = "\n".join(problems)
    assert "prompts/a.yaml:1: variable 'who'" in joined
    assert "prompts/b.yaml:2: unknown key 'foo'" in joined
    assert "evalsets/e.yaml:4: unknown evaluator 'nope'" in joined
    assert len(problems) == 4


def test_variables_in_partials_and_loops(tmp_path: Path) -> None:
    problems = lint(
        tmp_path,
        {
            "prompts/partials/t.jinja": "{{ undeclared }}{% for i in items %}{{ i }}{% endfor %}{% set y = 1 %}{{ y }}",
            "prompts/p.yaml": "inputs: {items: {type: array}}\ntemplate: \"{% include 'partials/t.jinja' %}\"\n",
        },
    )
    assert len(problems) == 1 and "variable 'undeclared'" in problems[0]


def test_json_schema_evaluator_uses_prompt_output_schema(tmp_path: Path) -> None:
    prompt = P + "output:\n  json_schema: {type: object}\n"
    ev = "prompt: p\ncases: [{vars: {x: a}}]\nevaluators: [{type: json_schema}, {type: judge, rubric: 'ok'}]\n"
    assert lint(tmp_path, {"prompts/p.yaml": prompt, "evalsets/e.yaml": ev}) == []


def test_invalid_output_schema(tmp_path: Path) -> None:
    problems = lint(tmp_path, {"prompts/p.yaml": P + "output:\n  json_schema: {type: banana}\n"})
    assert len(problems) == 1 and problems[0].startswith("prompts/p.yaml:4: invalid output.json_schema")


def test_evalset_problems(tmp_path: Path) -> None:
    problems = lint(
        tmp_path,
        {
            "prompts/p.yaml": P,
            "evalsets/a.yaml": "prompt: nosuch\ncases: [{vars: {x: a}}]\n",
            "evalsets/b.yaml": "prompt: p\ncases:\n  - id: c1\n    vars: {y: 1}\n",
            "evalsets/c.yaml": "prompt: p\nsource: {path: data/t.csv, columns: {vars: [x, z]}}\n",
            "evalsets/data/t.csv": "x\n1\n",
            "evalsets/d.yaml": "prompt: p@production\ncases: [{vars: {}}]\n",
        },
    )
    assert problems[0].startswith("evalsets/a.yaml:1: unknown prompt 'nosuch'")
    assert problems[1] == "evalsets/b.yaml:3: case 'c1' lacks required variable(s) x of prompt 'p'"
    assert problems[2].startswith("evalsets/c.yaml:2: source data/t.csv has no column(s) z")
    assert len(problems) == 3  # versions (p@production) are checked at eval time


def test_duplicate_prompt_names(tmp_path: Path) -> None:
    problems = lint(tmp_path, {"prompts/a.yaml": "name: n\ntemplate: a\n", "prompts/b.yaml": "name: n\ntemplate: b\n"})
    assert problems == ["prompts/b.yaml:1: prompt name 'n' is also used by prompts/a.yaml"]
