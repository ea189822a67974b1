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
    assert "evalsets/e.yaml:3: case 'c-cf56902c71' lacks required variable(s) what, who of prompt 'a'" in joined
    assert len(problems) == 5


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


def located(root: Path, files: dict[str, str], config: str = "default_models: [echo]\n") -> list[str]:
    """Every problem as `file:line: message` plus its hint line."""
    write(root, {"llmctl.yaml": config, **files})
    return [p.located() for p in lint_project(load_config(root)).problems]


ALIASES = "default_models: [demo]\nmodels:\n  demo: {model: scripted, default: ok}\njudge: {model: demo}\n"


def test_unknown_evaluator_type_suggests_the_close_one(tmp_path: Path) -> None:
    ev = "prompt: p\ncases: [{vars: {x: a}, expected: a}]\nevaluators: [{type: contians}]\n"
    problems = located(tmp_path, {"prompts/p.yaml": P, "evalsets/e.yaml": ev})
    assert len(problems) == 1
    assert problems[0].startswith("evalsets/e.yaml:3: unknown evaluator 'contians'")
    assert problems[0].endswith("hint: did you mean 'contains'?")


def test_unknown_evaluator_option_suggests_the_close_one(tmp_path: Path) -> None:
    ev = "prompt: p\ncases: [{vars: {x: a}}]\nevaluators: [{type: contains, valeu: a}]\n"
    problems = located(tmp_path, {"prompts/p.yaml": P, "evalsets/e.yaml": ev})
    assert any("unknown option 'valeu'" in p and p.endswith("did you mean 'value'?") for p in problems), problems


@pytest.mark.parametrize(
    ("rel", "text", "where", "guess"),
    [
        ("prompts/q.yaml", P + "descripton: x\n", "prompts/q.yaml:3: unknown key 'descripton'", "description"),
        ("prompts/q.yaml", "inputs: {x: {tpye: string}}\ntemplate: '{{ x }}'\n", "prompts/q.yaml:1:", "type"),
        ("evalsets/e.yaml", "prompt: p\ncase: []\n", "evalsets/e.yaml:2: unknown key 'case'", "cases"),
        ("evalsets/e.yaml", "prompt: p\ncases:\n  - vars: {x: a}\n    expect: a\n", "evalsets/e.yaml:4:", "expected"),
        ("evalsets/e.yaml", "prompt: p\nsource: {pth: d.csv}\n", "evalsets/e.yaml:2:", "path"),
        ("evalsets/e.yaml", "prompt: p\ncases: []\ngate: {qualty: {}}\n", "evalsets/e.yaml:3:", "quality"),
    ],
)
def test_unknown_keys_in_files_suggest_the_close_one(
    tmp_path: Path, rel: str, text: str, where: str, guess: str
) -> None:
    problems = located(tmp_path, {"prompts/p.yaml": P, rel: text})
    assert len(problems) == 1, problems
    assert problems[0].startswith(where) and "unknown key" in problems[0]
    assert problems[0].endswith(f"hint: did you mean {guess!r}?")


def test_unknown_key_in_config_suggests_the_close_one(tmp_path: Path) -> None:
    from llmctl.errors import InputError

    write(tmp_path, {"llmctl.yaml": "default_models: [echo]\nmodles: {}\n"})
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert info.value.line == 2 and "unknown key 'modles' in llmctl.yaml" in info.value.message
    assert info.value.hint == "did you mean 'models'?"
    write(tmp_path, {"llmctl.yaml": "models:\n  m: {model: scripted, defualt: x}\n"})
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert info.value.line == 2 and info.value.hint == "did you mean 'default'?"
    write(tmp_path, {"llmctl.yaml": "judge: {modle: echo}\n"})
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert "unknown key 'modle' in judge" in info.value.message and info.value.hint == "did you mean 'model'?"


def test_unknown_model_aliases_are_located(tmp_path: Path) -> None:
    """Every place a model is named: evalset models, a prompt's model, an evaluator's model, llmctl.yaml."""
    files = {
        "prompts/p.yaml": "model: demmo\n" + P,
        "evalsets/e.yaml": (
            "prompt: p\nmodels:\n  - demo\n  - dem\ncases: [{vars: {x: a}}]\n"
            "evaluators:\n  - {type: judge, rubric: ok, model: deme}\n"
        ),
    }
    config = ALIASES.replace("default_models: [demo]", "default_models: [demo, echoo]")
    problems = located(tmp_path, files, config)
    assert problems == [
        "llmctl.yaml:1: unknown model 'echoo': not an alias in llmctl.yaml (aliases: demo), "
        "a built-in (echo, scripted) or a litellm id\n  hint: did you mean 'echo'?",
        "prompts/p.yaml:1: unknown model 'demmo': not an alias in llmctl.yaml (aliases: demo), "
        "a built-in (echo, scripted) or a litellm id\n  hint: did you mean 'demo'?",
        "evalsets/e.yaml:4: unknown model 'dem': not an alias in llmctl.yaml (aliases: demo), "
        "a built-in (echo, scripted) or a litellm id\n  hint: did you mean 'demo'?",
        "evalsets/e.yaml:7: unknown model 'deme': not an alias in llmctl.yaml (aliases: demo), "
        "a built-in (echo, scripted) or a litellm id\n  hint: did you mean 'demo'?",
    ]


def test_a_bad_alias_is_reported_at_its_definition(tmp_path: Path) -> None:
    config = "default_models: [m]\nmodels:\n  m: gpt-4o\n"
    problems = located(
        tmp_path, {"prompts/p.yaml": P, "evalsets/e.yaml": "prompt: p\ncases: [{vars: {x: a}}]\n"}, config
    )
    assert len(problems) == 1 and problems[0].startswith("llmctl.yaml:3: model 'm' has model 'gpt-4o', which is not")


def test_unknown_evalset_name_suggests_the_close_one(tmp_path: Path) -> None:
    from llmctl.errors import InputError

    write(tmp_path, {"llmctl.yaml": "", "prompts/p.yaml": P, "evalsets/extract.yaml": "prompt: p\ncases: []\n"})
    with pytest.raises(InputError) as info:
        lint_project(load_config(tmp_path), ["extrct"])
    assert info.value.message == "unknown evalset 'extrct'"
    assert info.value.hint == "did you mean 'extract'? (known: extract)"
    assert lint_project(load_config(tmp_path), ["extract"]).evalsets == 1


def test_check_with_no_value_and_no_expected(tmp_path: Path) -> None:
    ev = (
        "prompt: p\n"
        "evaluators: [equals]\n"
        "cases:\n"
        "  - {id: a, vars: {x: a}, expected: a}\n"
        "  - {id: b, vars: {x: b}}\n"
        "  - id: c\n"
        "    vars: {x: c}\n"
        "    assert: [{type: contains}, {type: contains, value: c}, json_valid]\n"
    )
    problems = located(tmp_path, {"prompts/p.yaml": P, "evalsets/e.yaml": ev})
    assert problems == [
        "evalsets/e.yaml:8: evaluator 'contains' of case 'c' has no 'value' and the case has no 'expected'"
        "\n  hint: add `value: ...` to the evaluator, or `expected: ...` to the case",
        "evalsets/e.yaml:2: evaluator 'equals' has no 'value' and case(s) 'b', 'c' have no 'expected'"
        "\n  hint: add `value: ...` to the evaluator, or `expected: ...` to those cases",
    ]
    fixed = ev.replace("evaluators: [equals]", "evaluators: [{type: equals, value: a}]").replace(
        "{type: contains}, ", ""
    )
    assert located(tmp_path, {"prompts/p.yaml": P, "evalsets/e.yaml": fixed}) == []


def test_check_with_no_value_on_a_source_without_expected(tmp_path: Path) -> None:
    files = {"prompts/p.yaml": P, "evalsets/data/d.csv": "x\na\n", "evalsets/e.yaml": "prompt: p\nsource: data/d.csv\n"}
    files["evalsets/e.yaml"] += "evaluators: [equals]\n"
    problems = located(tmp_path, files)
    assert len(problems) == 1 and "'every row of data/d.csv' have no 'expected'" in problems[0]
    files["evalsets/data/d.csv"] = "x,expected\na,a\n"
    assert located(tmp_path, files) == []


def test_misspelled_case_variable(tmp_path: Path) -> None:
    prompt = "inputs:\n  ticket: {type: string}\n  tone: {type: string, default: calm}\ntemplate: '{{ ticket }} {{ tone }}'\n"
    ev = "prompt: p\ncases:\n  - {id: a, vars: {tiket: x}}\n  - {id: b, vars: {ticket: x, ton: y}}\n"
    problems = located(tmp_path, {"prompts/p.yaml": prompt, "evalsets/e.yaml": ev})
    assert problems == [
        "evalsets/e.yaml:3: case 'a' lacks required variable(s) ticket of prompt 'p'"
        "\n  hint: did you mean 'tiket' for 'ticket'? (no prompt uses 'tiket')",
        "evalsets/e.yaml:4: case 'b' sets variable 'ton', which no prompt of the evalset uses"
        "\n  hint: did you mean 'tone'?",
    ]


def test_undeclared_template_variable_missing_from_a_case(tmp_path: Path) -> None:
    prompt = "inputs: {x: {type: string}}\ntemplate: '{{ x }}{{ y }}'\n"
    ev = "prompt: p\ncases: [{id: a, vars: {x: 1, y: 2}}, {id: b, vars: {x: 1}}]\n"
    problems = located(tmp_path, {"prompts/p.yaml": prompt, "evalsets/e.yaml": ev})
    assert [p.split("\n")[0] for p in problems] == [
        "prompts/p.yaml:2: variable 'y' is used by the template but not declared in inputs",
        "evalsets/e.yaml:2: case 'b' lacks required variable(s) y of prompt 'p'",
    ]


def test_a_broken_prompt_is_not_blamed_on_its_evalsets(tmp_path: Path) -> None:
    files = {"prompts/p.yaml": "template: 'hi'\nbogus: 1\n", "evalsets/e.yaml": "prompt: p\ncases: [{vars: {}}]\n"}
    problems = located(tmp_path, files)
    assert len(problems) == 1 and problems[0].startswith("prompts/p.yaml:2: unknown key 'bogus'")
    problems = located(tmp_path, {**files, "evalsets/e.yaml": "prompt: pp\ncases: [{vars: {}}]\n"})
    assert any(p.startswith("evalsets/e.yaml:1: unknown prompt 'pp'") for p in problems), problems


def test_lint_reads_source_files_as_eval_does(tmp_path: Path) -> None:
    """A data file that `eval` rejects is a lint problem at its file:line (the same loader reads it)."""
    good = "".join(f'{{"id": "c{i}", "x": "v{i}"}}\n' for i in range(4))
    problems = lint(
        tmp_path,
        {
            "prompts/p.yaml": P,
            "evalsets/e.yaml": "prompt: p\nsource: data/t.jsonl\n",
            "evalsets/data/t.jsonl": good + "{broken\n",
        },
    )
    assert len(problems) == 1 and problems[0].startswith("evalsets/data/t.jsonl:5: could not read source"), problems


def test_lint_reports_duplicate_ids_in_a_source(tmp_path: Path) -> None:
    problems = lint(
        tmp_path,
        {
            "prompts/p.yaml": P,
            "evalsets/e.yaml": "prompt: p\nsource: data/t.jsonl\n",
            "evalsets/data/t.jsonl": '{"id": "a", "x": "1"}\n{"id": "a", "x": "2"}\n',
        },
    )
    assert any("duplicate case id 'a'" in p for p in problems), problems
