"""`llmctl schema`: valid JSON Schemas that accept every example file in the repo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from llmctl.cli import _common
from llmctl.cli.main import app
from llmctl.prompt import split_front_matter
from llmctl.scaffold import _template_files

REPO = Path(__file__).resolve().parents[2]


def schema_output(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(_common, "DEBUG", False)
    code = _common.invoke(app, argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def prompt_data(relpath: str, text: str) -> Any:
    if relpath.endswith(".jinja"):
        front, body, _ = split_front_matter(text, relpath)
        data = yaml.safe_load(front or "") or {}
        return {**data, "template": body}
    return yaml.safe_load(text)


def example_files() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    prompts, evalsets = [], []
    for path in sorted((REPO / "prompts").rglob("*")):
        rel = path.relative_to(REPO).as_posix()
        if (path.suffix == ".yaml" and path.name != "llmctl.lock") or (
            path.suffix == ".jinja" and path.read_text().startswith("---")
        ):
            prompts.append((rel, path.read_text()))
    for path in sorted((REPO / "evalsets").glob("*.yaml")):
        evalsets.append((path.relative_to(REPO).as_posix(), path.read_text()))
    for rel, data in _template_files().items():
        if rel.startswith("prompts/") and rel.endswith(".yaml"):
            prompts.append(("template:" + rel, data.decode()))
        elif rel.startswith("evalsets/") and rel.endswith(".yaml"):
            evalsets.append(("template:" + rel, data.decode()))
    return prompts, evalsets


def test_schemas_are_valid_and_accept_the_examples(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = schema_output(["schema"], capsys, monkeypatch)
    assert set(schemas) == {"prompt", "evalset"}
    for kind in ("prompt", "evalset"):
        Draft202012Validator.check_schema(schemas[kind])
        assert schema_output(["schema", kind], capsys, monkeypatch) == schemas[kind]
    prompts, evalsets = example_files()
    assert len(prompts) >= 4 and len(evalsets) >= 3
    for rel, text in prompts:
        errors = list(Draft202012Validator(schemas["prompt"]).iter_errors(prompt_data(rel, text)))
        assert not errors, (rel, [e.message for e in errors])
    for rel, text in evalsets:
        errors = list(Draft202012Validator(schemas["evalset"]).iter_errors(yaml.safe_load(text)))
        assert not errors, (rel, [e.message for e in errors])


def test_schema_rejects_what_lint_rejects(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    schemas = schema_output(["schema"], capsys, monkeypatch)
    prompt = Draft202012Validator(schemas["prompt"])
    assert not prompt.is_valid({"template": "x", "colour": "red"})
    assert not prompt.is_valid({"template": "x", "messages": [{"role": "user", "content": "x"}]})
    assert not prompt.is_valid({"messages": [{"role": "robot", "content": "x"}]})
    evalset = Draft202012Validator(schemas["evalset"])
    assert not evalset.is_valid({"cases": []})
    assert not evalset.is_valid({"prompt": "p", "repeat": 0})


def test_unknown_schema(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "DEBUG", False)
    assert _common.invoke(app, ["schema", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown schema 'nope'")
