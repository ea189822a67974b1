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
    assert set(schemas) == {"prompt", "evalset", "config"}
    for kind in ("prompt", "evalset", "config"):
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


def test_config_schema_accepts_the_shipped_and_scaffolded_llmctl_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmctl.scaffold import scaffold

    schema = Draft202012Validator(schema_output(["schema", "config"], capsys, monkeypatch))
    scaffold(tmp_path / "new")
    texts = {
        "llmctl.yaml": (REPO / "llmctl.yaml").read_text(),
        "template:llmctl.yaml": _template_files()["llmctl.yaml"].decode(),
        "init:llmctl.yaml": (tmp_path / "new" / "llmctl.yaml").read_text(),
    }
    for name, text in texts.items():
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schema.iter_errors(yaml.safe_load(text))
        ]
        assert not errors, (name, errors)


@pytest.mark.parametrize(
    "config",
    [
        {"modles": {}},
        {"concurrency": 0},
        {"timeout": 0},
        {"retries": -1},
        {"default_models": [1]},
        {"models": {"m": {"api_base": "http://x"}}},
        {"models": {"m": {"model": "scripted", "defualt": "x"}}},
        {"models": {"m": {"model": "openai/x", "transport": "grpc"}}},
        {"models": {"m": {"model": "openai/x", "price": {"input": 1}}}},
        {"models": {"m": {"model": "scripted", "responses": {"a": {"text": "x"}}}}},
        {"judge": {"modle": "echo"}},
        {"gate": {"quality": {"max_dorp": 0.1}}},
        {"gate": {"confidence": 1.5}},
    ],
)
def test_config_schema_rejects_what_the_loader_rejects(
    config: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmctl.config import load_config
    from llmctl.errors import InputError

    schema = Draft202012Validator(schema_output(["schema", "config"], capsys, monkeypatch))
    assert not schema.is_valid(config)
    (tmp_path / "llmctl.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(InputError):
        load_config(tmp_path)


def test_loaders_take_their_keys_from_the_schemas() -> None:
    """One description of each file: a key added to a schema is a key its loader accepts."""
    from llmctl import config, evalset, prompt
    from llmctl.schema import CONFIG_SCHEMA, EVALSET_SCHEMA, PROMPT_SCHEMA

    assert config._TOP_KEYS == set(CONFIG_SCHEMA["properties"])
    assert config._MODEL_KEYS == set(
        CONFIG_SCHEMA["properties"]["models"]["additionalProperties"]["oneOf"][1]["properties"]
    )
    assert evalset.EVALSET_KEYS == set(EVALSET_SCHEMA["properties"])
    assert evalset.CASE_KEYS == set(EVALSET_SCHEMA["properties"]["cases"]["items"]["properties"])
    assert prompt.PROMPT_KEYS == set(PROMPT_SCHEMA["properties"])


def test_unknown_schema(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "DEBUG", False)
    assert _common.invoke(app, ["schema", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown schema 'nope'")
