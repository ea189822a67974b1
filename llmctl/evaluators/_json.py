"""JSON checks: json_valid and json_schema. Output may be wrapped in a ```json fence."""

from __future__ import annotations

import json
import re
from typing import Any

from llmctl.evaluators._base import Evaluator, Raw, opt, short
from llmctl.evaluators._registry import evaluator
from llmctl.types import EvalInput

_FENCE = re.compile(r"\A```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)\r?\n?[ \t]*```\Z", re.DOTALL)


def strip_json_fence(text: str) -> str:
    """The text inside one surrounding ```json (or bare ```) fence, else the stripped text."""
    text = text.strip()
    if text.startswith("```"):
        match = _FENCE.match(text)
        if match:
            return match.group(1).strip()
    return text


def parse_json_output(text: str) -> Any:
    """Parse a model output as JSON, allowing one ```json fence around it. ValueError if not JSON."""
    return json.loads(strip_json_fence(text))


@evaluator("json_valid", aliases=["is_json", "json"])
class JsonValid(Evaluator):
    """Output parses as JSON (optionally inside a ```json fence)."""

    def check(self, inp: EvalInput) -> Raw:
        try:
            parse_json_output(inp.output)
        except ValueError as exc:
            return 0.0, None, f"output is not valid JSON: {exc}"
        return 1.0, None, "valid JSON"


@evaluator("json_schema", aliases=["is_valid_json_schema", "json_schema_valid"])
class JsonSchema(Evaluator):
    """Output is JSON that validates against `schema` (default: the prompt's output.json_schema)."""

    options = {
        "schema": opt(dict, bool, required=True, help="a JSON Schema; defaults to the prompt's output.json_schema"),
    }

    def setup(self, *, resolve: bool = True) -> None:
        import jsonschema  # deferred: ~90 ms, only when a json_schema check is configured

        schema = self.config["schema"]
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise self.error(f"invalid JSON schema at {where}: {exc.message}", "schema") from None
        self._validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def check(self, inp: EvalInput) -> Raw:
        try:
            data = parse_json_output(inp.output)
        except ValueError as exc:
            return 0.0, None, f"output is not valid JSON: {exc}"
        error = next(iter(self._validator.iter_errors(data)), None)
        if error is None:
            return 1.0, None, "matches the schema"
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return 0.0, None, f"schema violation at {where}: {short(error.message, 120)[1:-1]}"


__all__ = ["parse_json_output", "strip_json_fence"]
