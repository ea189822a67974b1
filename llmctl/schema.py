"""JSON Schemas of the prompt and evalset files, for editors (`llmctl schema`)."""

from __future__ import annotations

from typing import Any

_EVALUATOR: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "description": "shorthand: an evaluator type with no options"},
        {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "description": "registered evaluator name, e.g. contains, judge"},
                "not": {"type": "boolean", "description": "negate the check"},
                "weight": {"type": "number", "minimum": 0},
                "threshold": {"type": "number"},
                "metric": {"type": "string", "description": "name the score is reported under"},
                "scope": {"type": "string", "pattern": "^(final|transcript|turn:[1-9][0-9]*)$"},
            },
            "additionalProperties": True,
        },
    ]
}

PROMPT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://llmctl.dev/schema/prompt.json",
    "title": "llmctl prompt file",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[^\\s@]+$"},
        "description": {"type": "string"},
        "model": {"type": "string", "description": "litellm model id or llmctl.yaml alias"},
        "params": {"type": "object", "description": "model parameters (temperature, max_tokens, ...)"},
        "inputs": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [
                    {
                        "type": "string",
                        "enum": ["string", "number", "integer", "boolean", "array", "object", "any"],
                    },
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "type": {"enum": ["string", "number", "integer", "boolean", "array", "object", "any"]},
                            "default": {},
                            "description": {"type": "string"},
                            "required": {"type": "boolean"},
                            "enum": {"type": "array"},
                        },
                    },
                ]
            },
        },
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "additionalProperties": False,
                "properties": {
                    "role": {"enum": ["system", "user", "assistant", "developer", "tool"]},
                    "content": {"type": "string"},
                },
            },
        },
        "template": {"type": "string"},
        "output": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"json_schema": {"type": "object"}, "structured": {"type": "boolean"}},
        },
        "tools": {
            "type": "array",
            "minItems": 1,
            "items": {
                "oneOf": [
                    {"$ref": "#/$defs/function"},
                    {
                        "type": "object",
                        "required": ["type", "function"],
                        "additionalProperties": False,
                        "properties": {"type": {"const": "function"}, "function": {"$ref": "#/$defs/function"}},
                    },
                ]
            },
        },
        "tool_choice": {
            "oneOf": [
                {"enum": ["auto", "required", "none"]},
                {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {"name": {"type": "string"}},
                },
                {"type": "object", "required": ["type", "function"]},
            ]
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "object"},
    },
    "not": {"required": ["messages", "template"]},
    "$defs": {
        "function": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                "description": {"type": "string"},
                "parameters": {"type": "object"},
                "strict": {"type": "boolean"},
            },
        }
    },
}

_GATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "quality": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "min_pass_rate": {"type": ["number", "null"]},
                "max_drop": {"type": "number"},
                "flaky": {
                    "enum": ["ignore", "report", "fail"],
                    "description": "flaky cases (verdicts differ across --repeat samples): ignore leaves them out "
                    "of the quality comparison, report lists them (default), fail fails the gate",
                },
            },
        },
        "cost": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"max_increase": {"type": ["number", "null"]}, "min_usd": {"type": "number", "minimum": 0}},
        },
        "latency": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "p95_max_increase": {"type": ["number", "null"]},
                "min_ms": {"type": "number", "minimum": 0},
                "min_fresh": {"type": "integer", "minimum": 1},
            },
        },
        "judges": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "min_kappa": {"type": ["number", "null"], "minimum": -1, "maximum": 1},
                "min_labels": {"type": ["integer", "null"], "minimum": 0},
            },
        },
    },
}

EVALSET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://llmctl.dev/schema/evalset.json",
    "title": "llmctl evalset file",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "prompt": {
            "oneOf": [
                {"type": "string", "description": "NAME or NAME@REF"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        },
        "prompts": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "models": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
        "repeat": {"type": "integer", "minimum": 1},
        "concurrency": {"type": "integer", "minimum": 1},
        "params": {"type": "object"},
        "defaults": {"type": "object", "properties": {"vars": {"type": "object"}}},
        "cases": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "id": {"type": ["string", "integer"]},
                    "description": {"type": "string"},
                    "vars": {"type": "object"},
                    "expected": {},
                    "assert": {"type": "array", "items": _EVALUATOR},
                    "metadata": {"type": "object"},
                    "expected_tool_calls": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, "args": {"type": "object"}},
                        },
                    },
                    "messages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["role"],
                            "properties": {"role": {"enum": ["system", "user", "assistant", "developer", "tool"]}},
                        },
                    },
                    "tool_results": {"type": ["object", "array"]},
                    "max_turns": {"type": "integer", "minimum": 1, "maximum": 50},
                    "turns": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
                },
            },
        },
        "source": {
            "oneOf": [
                {"type": "string", "description": "a .jsonl, .csv or .parquet file"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "path": {"type": "string"},
                        "hf": {"type": "string"},
                        "name": {"type": "string"},
                        "split": {"type": "string"},
                        "limit": {"type": "integer", "minimum": 1},
                        "columns": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "id": {"type": "string"},
                                "expected": {"type": "string"},
                                "vars": {
                                    "oneOf": [
                                        {"type": "string"},
                                        {"type": "array", "items": {"type": "string"}},
                                    ]
                                },
                            },
                        },
                    },
                },
            ]
        },
        "evaluators": {"type": "array", "items": _EVALUATOR},
        "gate": _GATE,
    },
    "anyOf": [{"required": ["prompt"]}, {"required": ["prompts"]}],
}

SCHEMAS = {"prompt": PROMPT_SCHEMA, "evalset": EVALSET_SCHEMA}
