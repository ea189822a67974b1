"""JSON Schemas of the prompt, evalset and llmctl.yaml files, for editors (`llmctl schema`).

The loaders take their key names from here (`keys_of`), so a key the schema lists is the
key the loader accepts."""

from __future__ import annotations

from typing import Any

# The input types prompt files accept (llmctl.prompt checks values against them): one list for both.
INPUT_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "any": (object,),
    "image": (str,),  # a file path (relative to the evalset), an http(s) URL or a data URL: llmctl.images
}

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
                        "enum": list(INPUT_TYPES),
                    },
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "type": {"enum": list(INPUT_TYPES)},
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
        "batch": {"type": "boolean", "description": "send uncached calls through the providers' batch APIs"},
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

TRANSPORTS = ("auto", "native", "litellm")

_NUMBER = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 1}

_SCRIPTED_ANSWER: dict[str, Any] = {
    "oneOf": [
        {"type": ["string", "number", "boolean", "null"], "description": "the answer's text"},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "content": {"type": ["string", "null"]},
                "tool_calls": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "args": {"type": "object"}},
                    },
                },
            },
        },
    ]
}

_MODEL_ALIAS: dict[str, Any] = {
    "type": "object",
    "required": ["model"],
    "additionalProperties": False,
    "properties": {
        "model": {"type": "string", "description": "a litellm id (provider/model), or echo / scripted"},
        "api_base": {"type": "string", "description": "endpoint URL; $VARS are expanded"},
        "api_key_env": {"type": "string", "description": "the environment variable holding the key"},
        "params": {"type": "object", "description": "model parameters sent with every call"},
        "price": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "input_per_1k": _NUMBER,
                "output_per_1k": _NUMBER,
                "batch_input_per_1k": _NUMBER,
                "batch_output_per_1k": _NUMBER,
            },
            "description": "USD per 1,000 tokens, for models litellm has no price for (batch_*: through a batch API)",
        },
        "batch": {
            "type": "boolean",
            "description": "send this model's uncached calls (and judge calls) through the provider's batch API",
        },
        "max_concurrency": _COUNT,
        "rpm": _COUNT,
        "tpm": _COUNT,
        "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "seconds per call"},
        "stream": {"type": "boolean"},
        "transport": {"enum": list(TRANSPORTS)},
        "deployments": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "api_base": {"type": "string", "description": "this deployment's endpoint; $VARS are expanded"},
                    "model": {"type": "string", "description": "its litellm id (default: the alias's model)"},
                    "api_key_env": {"type": "string", "description": "the variable holding its key"},
                    "weight": {"type": "number", "exclusiveMinimum": 0, "description": "share of calls (default 1)"},
                },
            },
            "description": "several endpoints behind the alias, balanced and failed over by litellm's Router",
        },
        "fallbacks": {
            "type": "array",
            "items": {"type": "string"},
            "description": "other aliases tried, in order, when every deployment fails",
        },
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "responses": {
            "type": "object",
            "additionalProperties": _SCRIPTED_ANSWER,
            "description": "scripted model: substring or /regex/ of the prompt -> answer",
        },
        "default": {"type": "string", "description": "scripted model: the answer when no response matches"},
        "function": {"type": "string", "pattern": "^[^:]+:[^:]+$", "description": "module:function answering"},
        "latency_ms": _NUMBER,
    },
}

_MAX_INCREASE = {"type": ["number", "null"], "minimum": 0}
_MONITOR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "llmctl monitor: drift of production traces, window against the reference window before it",
    "properties": {
        "confidence": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "latency": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"p95_max_increase": _MAX_INCREASE},
        },
        "cost": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"per_1k_max_increase": _MAX_INCREASE, "per_call_max_increase": _MAX_INCREASE},
        },
        "errors": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"max_rate_increase": _MAX_INCREASE},
        },
        "quality": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"max_drop": _MAX_INCREASE},
        },
        "evaluators": {"type": "array", "items": {"type": "object"}, "description": "reference-free checks"},
        "sample": {"type": "integer", "minimum": 1, "description": "traces judged per prompt x model x window"},
        "min_calls": {"type": "integer", "minimum": 1, "description": "fewer calls in a window: not tested"},
        "seed": {"type": "integer"},
    },
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://llmctl.dev/schema/llmctl.json",
    "title": "llmctl project configuration (llmctl.yaml)",
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {
        "store": {
            "oneOf": [
                {"type": "string", "description": "the DuckDB file (default .llmctl/llmctl.duckdb)"},
                {
                    "type": "object",
                    "description": "a shared DuckLake store: its catalog and its Parquet data",
                    "properties": {
                        "ducklake": {"type": "string", "description": "sqlite:PATH | postgres:CONNINFO | duckdb:PATH"},
                        "data": {"type": "string", "description": "a shared folder or s3://bucket/prefix/"},
                    },
                    "required": ["ducklake", "data"],
                    "additionalProperties": False,
                },
            ]
        },
        "concurrency": {"type": "integer", "minimum": 1},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "description": "seconds per model call"},
        "retries": {"type": "integer", "minimum": 0},
        "default_models": {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "models of evalsets and prompts that name none",
        },
        "models": {
            "type": "object",
            "additionalProperties": {"oneOf": [{"type": "string", "description": "a litellm id"}, _MODEL_ALIAS]},
        },
        "gate": _GATE,
        "monitor": _MONITOR,
        "judge": {
            "oneOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": False, "properties": {"model": {"type": "string"}}},
            ],
            "description": "the model of judge checks that name none",
        },
        "prompts_dir": {"type": "string"},
        "evalsets_dir": {"type": "string"},
    },
}

SCHEMAS = {"prompt": PROMPT_SCHEMA, "evalset": EVALSET_SCHEMA, "config": CONFIG_SCHEMA}


def keys_of(schema: dict[str, Any], *path: str) -> frozenset[str]:
    """The property names of the object at `path`: `keys_of(CONFIG_SCHEMA, "models")` is an
    alias's keys, `keys_of(EVALSET_SCHEMA, "cases")` a case's. Lists, maps of names
    (`additionalProperties`) and `oneOf` (its object branch) are stepped through."""
    node = _object_of(schema)
    for step in path:
        node = _object_of(node["properties"][step])
    return frozenset(node["properties"])


def _object_of(node: dict[str, Any]) -> dict[str, Any]:
    """The nearest schema with `properties` inside `node` (through items, oneOf, maps of names)."""
    while "properties" not in node:
        if isinstance(node.get("items"), dict):
            node = node["items"]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif any(isinstance(b, dict) for b in node.get("oneOf", ())):
            node = next(b for b in node["oneOf"] if isinstance(b, dict) and _has_object(b))
        else:
            raise KeyError("no object schema here")
    return node


def _has_object(node: dict[str, Any]) -> bool:
    try:
        _object_of(node)
    except (KeyError, StopIteration):
        return False
    return True
