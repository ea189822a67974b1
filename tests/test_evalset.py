"""Evalset files: prompts, models, cases, sources and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.evalset import derive_case_id, find_evalsets, load_evalset


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def load(root: Path, text: str, extra: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    write(root, {"evalsets/e.yaml": text, **(extra or {})})
    return load_evalset(root / "evalsets/e.yaml", root)


def test_full_evalset(tmp_path: Path) -> None:
    ev = load(
        tmp_path,
        "prompt: [summarize@production, classify]\nmodels: echo\nrepeat: 2\n"
        "defaults:\n  vars: {tone: neutral}\n"
        "evaluators:\n  - json_valid\n  - {type: contains, value: x, not: true}\n"
        "cases:\n  - id: one\n    vars: {ticket: a}\n    expected: b\n    assert: [{type: equals}]\n"
        "  - vars: {ticket: c, tone: formal}\n"
        "gate:\n  quality: {min_pass_rate: 0.9}\n",
    )
    assert [str(p) for p in ev.prompts] == ["summarize@production", "classify"]
    assert ev.prompts[0].line == 1
    assert ev.models == ["echo"] and ev.repeat == 2 and ev.name == "e"
    assert [e.type for e in ev.evaluators] == ["json_valid", "contains"]
    assert ev.evaluators[1].config == {"type": "contains", "value": "x", "not": True}
    assert ev.evaluators[1].line == 8
    cases = ev.cases()
    assert cases[0].id == "one" and cases[0].vars == {"tone": "neutral", "ticket": "a"}
    assert cases[0].asserts[0].type == "equals"
    assert cases[1].id == derive_case_id({"tone": "formal", "ticket": "c"}, None)
    assert ev.gate == {"quality": {"min_pass_rate": 0.9}}


def test_derived_ids_are_stable_across_reordering(tmp_path: Path) -> None:
    a = load(tmp_path, "prompt: p\ncases:\n  - vars: {x: 1, y: 2}\n  - vars: {x: 3}\n").cases()
    b = load(tmp_path, "prompt: p\ncases:\n  - vars: {x: 3}\n  - vars: {y: 2, x: 1}\n").cases()
    assert {c.id for c in a} == {c.id for c in b}


def test_jsonl_and_csv_sources(tmp_path: Path) -> None:
    extra = {
        "evalsets/data/t.jsonl": '{"id": "r1", "ticket": "a", "category": "billing"}\n{"ticket": "b", "category": "x"}\n',
        "evalsets/data/t.csv": "q,answer,extra\nhi,yes,1\nho,no,2\n",
    }
    ev = load(
        tmp_path, "prompt: p\nsource:\n  path: data/t.jsonl\n  columns: {vars: [ticket], expected: category}\n", extra
    )
    cases = ev.cases()
    assert cases[0].id == "r1" and cases[0].vars == {"ticket": "a"} and cases[0].expected == "billing"
    assert cases[1].id.startswith("c-")
    ev = load(tmp_path, "prompt: p\nsource: {path: data/t.csv, columns: {expected: answer}, limit: 1}\n", extra)
    assert [(c.vars, c.expected) for c in ev.cases()] == [({"q": "hi", "extra": 1}, "yes")]


@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        ("{vars: [x], expected: answer}", "x, answer"),
        ("{expected: answer}", "answer"),
        ("{id: key}", "key"),
    ],
)
def test_csv_missing_mapped_columns(tmp_path: Path, columns: str, missing: str) -> None:
    ev = load(
        tmp_path,
        f"prompt: p\nsource:\n  path: data/t.csv\n  columns: {columns}\n",
        {"evalsets/data/t.csv": "q,label\nhi,yes\n"},
    )
    with pytest.raises(InputError, match=f"has no column\\(s\\) {missing}") as info:
        ev.cases()
    assert (info.value.file, info.value.line) == ("evalsets/e.yaml", 2)


def test_duplicate_ids_between_inline_and_source(tmp_path: Path) -> None:
    ev = load(
        tmp_path,
        "prompt: p\ncases:\n  - {id: r1, vars: {x: 1}}\nsource: data/t.jsonl\n",
        {"evalsets/data/t.jsonl": '{"id": "r1", "x": 2}\n'},
    )
    with pytest.raises(InputError, match="duplicate case id 'r1'"):
        ev.cases()


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "empty evalset file", 1),
        ("[a]\n", "must be a YAML mapping", 1),
        ("cases: []\n", "needs 'prompt:'", 1),
        ("prompt: p\n", "needs 'cases:' or 'source:'", 1),
        ("prompt: p\ncases:\n  - {vars: {x: 1}}\nfoo: 1\n", "unknown key 'foo'", 4),
        ("prompt: []\ncases: [{vars: {}}]\n", "list is empty", 1),
        ("prompt: 'p@'\ncases: [{vars: {}}]\n", "invalid prompt reference", 1),
        ("prompt: p\nmodels: []\ncases: [{vars: {}}]\n", "'models' must be a non-empty list", 2),
        ("prompt: p\nrepeat: true\ncases: [{vars: {}}]\n", "'repeat' must be a whole number", 2),
        ("prompt: p\ncases:\n  - id: a\n    vars: {}\n  - id: a\n    vars: {}\n", "duplicate case id 'a'", 5),
        ("prompt: p\ncases:\n  - vars: [1]\n", "case 'vars' must be a mapping", 3),
        ("prompt: p\ncases:\n  - {id: '', vars: {}}\n", "case 'id' must be a non-empty string", 3),
        ("prompt: p\ncases:\n  - {vars: {}, assert: x}\n", "case 'assert' must be a list", 3),
        ("prompt: p\ncases: [{vars: {}}]\nevaluators: [{value: x}]\n", "must be a mapping with a 'type'", 3),
        ("prompt: p\ncases: [{vars: {}}]\ngate: {quality: {max_drop: x}}\n", "must be a number", 3),
        ("prompt: p\nsource: {path: a.csv, hf: b}\n", "exactly one of 'path' or 'hf'", 2),
        ("prompt: p\nsource: {path: a.csv, columns: {text: q}}\n", "unknown key .text. in source columns", 2),
        ("prompt: p\nsource: {path: a.csv, limit: 0}\n", "'limit' must be a whole number", 2),
    ],
)
def test_evalset_errors(tmp_path: Path, text: str, message: str, line: int) -> None:
    with pytest.raises(InputError, match=message) as info:
        load(tmp_path, text)
    assert (info.value.file, info.value.line) == ("evalsets/e.yaml", line)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("data/nope.jsonl", "source file not found"),
        ("../../etc/passwd", "escapes the project"),
        ("/etc/passwd", "must be relative to the project"),
    ],
)
def test_source_path_errors(tmp_path: Path, path: str, message: str) -> None:
    ev = load(tmp_path, f"prompt: p\nsource: {path}\n")
    with pytest.raises(InputError, match=message) as info:
        ev.cases()
    assert info.value.line == 2


def test_bad_source_content(tmp_path: Path) -> None:
    ev = load(tmp_path, "prompt: p\nsource: data/t.jsonl\n", {"evalsets/data/t.jsonl": "{not json\n"})
    with pytest.raises(InputError, match="could not read source"):
        ev.cases()
    ev = load(tmp_path, "prompt: p\nsource: data/t.txt\n", {"evalsets/data/t.txt": "x\n"})
    with pytest.raises(InputError, match="unsupported source format"):
        ev.cases()


def test_find_evalsets(tmp_path: Path) -> None:
    write(tmp_path, {"evalsets/a.yaml": "", "evalsets/sub/b.yml": "", "evalsets/data/c.yaml": "", "evalsets/x.txt": ""})
    found = [p.relative_to(tmp_path).as_posix() for p in find_evalsets(tmp_path, "evalsets")]
    assert found == ["evalsets/a.yaml", "evalsets/sub/b.yml"]
    assert find_evalsets(tmp_path, "evalsets", ["a"]) == [tmp_path / "evalsets/a.yaml"]
    with pytest.raises(InputError, match="unknown evalset 'zzz'"):
        find_evalsets(tmp_path, "evalsets", ["zzz"])


def test_a_malformed_jsonl_line_is_reported_at_its_line(tmp_path: Path) -> None:
    """pyarrow counts rows from 0 ("row 199" for the 200th line); the error names the file's line."""
    good = "".join(f'{{"id": "c{i}", "x": "v{i}"}}\n' for i in range(199))
    ev = load(tmp_path, "prompt: p\nsource: data/t.jsonl\n", {"evalsets/data/t.jsonl": good + '{"id": "bad", "x": \n'})
    with pytest.raises(InputError) as info:
        ev.cases()
    assert info.value.line == 200, info.value.located()
    assert "row 199" not in info.value.located()
    assert info.value.located().startswith("evalsets/data/t.jsonl:200:")


def test_a_jsonl_type_change_is_reported_at_its_line(tmp_path: Path) -> None:
    """A row whose column changes type (valid JSON, rejected by the loader) is located too, blank lines counted."""
    text = '{"id": "a", "x": {"k": 1}}\n\n{"id": "b", "x": {"k": 2}}\n{"id": "c", "x": [1]}\n'
    ev = load(tmp_path, "prompt: p\nsource: data/t.jsonl\n", {"evalsets/data/t.jsonl": text})
    with pytest.raises(InputError) as info:
        ev.cases()
    assert info.value.line == 4, info.value.located()
