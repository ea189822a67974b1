"""Project configuration (`llmctl.yaml`), found by walking up from the working directory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmctl.errors import InputError
from llmctl.schema import CONFIG_SCHEMA, keys_of
from llmctl.store_location import LakeSpec, lake_from_mapping, parse_store_url
from llmctl.suggest import did_you_mean, unknown_key
from llmctl.types import DEFAULT_CONCURRENCY, Deployment, EvaluatorSpec
from llmctl.yamlio import LineDict, load_yaml_file

CONFIG_NAME = "llmctl.yaml"
DEFAULT_STORE = ".llmctl/llmctl.duckdb"

_TOP_KEYS = keys_of(CONFIG_SCHEMA)
_MODEL_KEYS = keys_of(CONFIG_SCHEMA, "models")
_PRICE_KEYS = keys_of(CONFIG_SCHEMA, "models", "price")
_DEPLOYMENT_KEYS = keys_of(CONFIG_SCHEMA, "models", "deployments")
_JUDGE_KEYS = keys_of(CONFIG_SCHEMA, "judge")


@dataclass
class ModelAlias:
    """A named model in llmctl.yaml: a litellm id plus how to reach and price it."""

    name: str
    model: str
    line: int | None = None  # where llmctl.yaml defines it
    api_base: str | None = None
    api_key_env: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    input_cost_per_1k: float | None = None
    output_cost_per_1k: float | None = None
    batch_input_cost_per_1k: float | None = None  # price: {batch_input_per_1k} (through a batch API)
    batch_output_cost_per_1k: float | None = None
    batch: bool = False  # `batch: true`: uncached calls through the provider's batch API (llmctl.run._batch)
    max_concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    timeout: float | None = None
    stream: bool = False
    transport: str = "auto"
    headers: dict[str, str] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)  # a fleet behind the alias (litellm's Router)
    fallbacks: list[str] = field(default_factory=list)  # aliases tried when every deployment fails
    fallbacks_line: int | None = None
    # scripted model options
    responses: dict[str, Any] | None = None
    default: str | None = None
    function: str | None = None
    latency_ms: float | None = None


@dataclass
class GateConfig:
    """Gate thresholds (README, "The gate"); evalsets may override any of them."""

    confidence: float = 0.95
    min_pass_rate: float | None = None
    max_drop: float = 0.05
    cost_max_increase: float | None = 0.10
    latency_p95_max_increase: float | None = 0.20
    cost_min_usd: float = 0.0  # an increase in mean cost per case below this is never a regression
    latency_min_ms: float = 50.0  # an increase in p95 below this is never a regression
    latency_min_fresh: int = 10  # paired cases with fresh (uncached) results both sides, to compare latency
    flaky: str = "report"  # gate.quality.flaky: ignore (leave flaky cases out of quality) | report | fail
    judge_min_kappa: float | None = None  # gate.judges: refuse judges below this Cohen's kappa
    judge_min_labels: int | None = None  # gate.judges: ... or calibrated on fewer labels

    def merged(self, override: dict[str, Any] | None) -> GateConfig:
        """A copy with an evalset's `gate:` mapping applied on top."""
        if not override:
            return GateConfig(**vars(self))
        new = GateConfig(**vars(self))
        if "confidence" in override:
            new.confidence = float(override["confidence"])
        quality = override.get("quality") or {}
        if "min_pass_rate" in quality:
            new.min_pass_rate = _opt_float(quality["min_pass_rate"])
        if "max_drop" in quality:
            new.max_drop = float(quality["max_drop"])
        if quality.get("flaky") is not None:
            new.flaky = str(quality["flaky"])
        cost = override.get("cost") or {}
        if "max_increase" in cost:
            new.cost_max_increase = _opt_float(cost["max_increase"])
        if cost.get("min_usd") is not None:
            new.cost_min_usd = float(cost["min_usd"])
        latency = override.get("latency") or {}
        if "p95_max_increase" in latency:
            new.latency_p95_max_increase = _opt_float(latency["p95_max_increase"])
        if latency.get("min_ms") is not None:
            new.latency_min_ms = float(latency["min_ms"])
        if latency.get("min_fresh") is not None:
            new.latency_min_fresh = int(latency["min_fresh"])
        judges = override.get("judges") or {}
        if "min_kappa" in judges:
            new.judge_min_kappa = _opt_float(judges["min_kappa"])
        if "min_labels" in judges:
            new.judge_min_labels = None if judges["min_labels"] is None else int(judges["min_labels"])
        return new


@dataclass
class MonitorConfig:
    """`monitor:` in llmctl.yaml (README, "Production traces and monitoring")."""

    confidence: float = 0.95
    latency_p95_max_increase: float | None = 0.20
    cost_per_1k_max_increase: float | None = 0.10
    cost_per_call_max_increase: float | None = None
    errors_max_rate_increase: float | None = 0.02
    quality_max_drop: float | None = 0.05
    evaluators: list[Any] = field(default_factory=list)  # EvaluatorSpec each
    sample: int = 200
    min_calls: int = 20
    seed: int = 0


_MONITOR_FIELDS = {
    ("latency", "p95_max_increase"): "latency_p95_max_increase",
    ("cost", "per_1k_max_increase"): "cost_per_1k_max_increase",
    ("cost", "per_call_max_increase"): "cost_per_call_max_increase",
    ("errors", "max_rate_increase"): "errors_max_rate_increase",
    ("quality", "max_drop"): "quality_max_drop",
}


def parse_monitor(data: Any, path: Path, line: int | None) -> MonitorConfig:
    """Validate and read `monitor:`. Its evaluators' options are checked by `llmctl.traces.check_monitor_evaluators`
    (lint, and `monitor` itself), which needs the evaluator registry that reading a config must not import."""
    if not isinstance(data, LineDict):
        raise InputError("'monitor' must be a mapping", file=path, line=line)
    _check_keys(data, keys_of(CONFIG_SCHEMA, "monitor"), path, "monitor")
    mon = MonitorConfig()
    if "confidence" in data:
        value = data["confidence"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise InputError(
                "monitor.confidence must be a number between 0 and 1", file=path, line=data.line_of("confidence")
            )
        mon.confidence = float(value)
    for section in ("latency", "cost", "errors", "quality"):
        if section not in data:
            continue
        sub = data[section]
        if not isinstance(sub, LineDict):
            raise InputError(f"monitor.{section} must be a mapping", file=path, line=data.line_of(section))
        _check_keys(sub, keys_of(CONFIG_SCHEMA, "monitor", section), path, f"monitor.{section}")
        for key, value in sub.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise InputError(
                    f"monitor.{section}.{key} must be a number >= 0 (or null: report only)",
                    file=path,
                    line=sub.line_of(key),
                )
            setattr(mon, _MONITOR_FIELDS[(section, str(key))], None if value is None else float(value))
    for key in ("sample", "min_calls", "seed"):
        if key in data:
            value = _num(data, key, path, int)
            if key != "seed" and value < 1:
                raise InputError(f"monitor.{key} must be at least 1", file=path, line=data.line_of(key))
            setattr(mon, key, value)
    specs = data.get("evaluators")
    if specs is not None:
        if not isinstance(specs, list):
            raise InputError("monitor.evaluators must be a list", file=path, line=data.line_of("evaluators"))
        for i, spec in enumerate(specs):  # their options: checked by lint and when monitor builds them
            at = getattr(specs, "line_of", lambda _i: None)(i) or data.line_of("evaluators")
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
                raise InputError("each monitor evaluator must be a mapping with a 'type'", file=path, line=at)
            mon.evaluators.append(EvaluatorSpec(type=spec["type"], config=spec, file=str(path), line=at))
    return mon


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class Config:
    """The loaded project configuration. `root` is the folder holding llmctl.yaml."""

    root: Path
    path: Path | None = None
    store_path: Path = field(default_factory=lambda: Path(DEFAULT_STORE))
    lake: LakeSpec | None = None  # a shared DuckLake store (`store:` as a mapping, or LLMCTL_STORE)
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = 60.0
    retries: int = 4
    default_models: list[str] = field(default_factory=lambda: ["echo"])
    models: dict[str, ModelAlias] = field(default_factory=dict)
    gate: GateConfig = field(default_factory=GateConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    judge_model: str | None = None
    prompts_dir: str = "prompts"
    evalsets_dir: str = "evalsets"
    lines: dict[str, int] = field(default_factory=dict)  # llmctl.yaml line of each top-level key (for lint)

    @property
    def store_location(self) -> Path | LakeSpec:
        """What `Store(...)` opens: the shared DuckLake when one is configured, else the local file."""
        return self.lake if self.lake is not None else self.store_path

    @property
    def store_label(self) -> str:
        """The store, for messages (a DuckLake's catalog without its password)."""
        return self.lake.label if self.lake is not None else str(self.store_path)

    def store_exists(self) -> bool:
        """Whether the store may hold runs already (a shared store on a server always may)."""
        return self.lake.exists() if self.lake is not None else self.store_path.exists()

    @property
    def prompts_path(self) -> Path:
        return self.root / self.prompts_dir

    @property
    def evalsets_path(self) -> Path:
        return self.root / self.evalsets_dir


def find_config(start: Path | None = None) -> Path | None:
    """Walk up from `start` (default: cwd) to the first folder with llmctl.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path | None = None) -> Config:
    """Load the project config; without llmctl.yaml, defaults rooted at `start`/cwd."""
    path = find_config(start)
    if path is None:
        root = (start or Path.cwd()).resolve()
        cfg = Config(root=root)
    else:
        try:
            cfg = parse_config(load_yaml_file(path, display=str(path)), path)
        except InputError as exc:
            if exc.file == str(path):  # name it as the user would: relative to where they are
                exc.file = os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
            raise
    env_db = os.environ.get("LLMCTL_DB")
    if env_db:
        cfg.store_path = Path(env_db)
        cfg.lake = None
    if not cfg.store_path.is_absolute():
        cfg.store_path = cfg.root / cfg.store_path
    env_store = os.environ.get("LLMCTL_STORE")
    if env_store:
        where = parse_store_url(env_store, root=cfg.root)
        if isinstance(where, LakeSpec):
            cfg.lake = where
        else:
            cfg.store_path, cfg.lake = where, None
    return cfg


# keys that earlier versions accepted and never read: refused, with what to do instead
_NOT_KEYS = {
    "cache": "the response cache needs no settings: it lives in the store and is on by default "
    "(`llmctl eval --no-cache` skips reading it)",
}


def _check_keys(data: LineDict, allowed: frozenset[str], file: Path, what: str) -> None:
    for key in data:
        if key not in allowed:
            message, hint = unknown_key(key, allowed, f"in {what}")
            if allowed is _TOP_KEYS:
                hint = hint or _NOT_KEYS.get(str(key))
            raise InputError(message, file=file, line=data.line_of(key), hint=hint)


def _num(data: LineDict, key: str, file: Path, kind: type = float) -> Any:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{key!r} must be a number", file=file, line=data.line_of(key))
    if kind is int and not isinstance(value, int):
        raise InputError(f"{key!r} must be a whole number", file=file, line=data.line_of(key))
    return kind(value)


FLAKY_MODES = ("ignore", "report", "fail")


def check_gate(gate: LineDict, file: str) -> None:
    """Validate a `gate:` mapping (of an evalset or llmctl.yaml): known keys, numbers."""
    sections = keys_of(CONFIG_SCHEMA, "gate")
    allowed = {key: None if key == "confidence" else keys_of(CONFIG_SCHEMA, "gate", key) for key in sections}
    for key, value in gate.items():
        if key not in allowed:
            message, hint = unknown_key(key, allowed, "in gate")
            raise InputError(message, file=file, line=gate.line_of(key), hint=hint)
        sub = allowed[key]
        if sub is None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                raise InputError("gate.confidence must be a number between 0 and 1", file=file, line=gate.line_of(key))
            continue
        if not isinstance(value, dict):
            raise InputError(f"gate.{key} must be a mapping", file=file, line=gate.line_of(key))
        for k, v in value.items():
            if k not in sub:
                message, hint = unknown_key(k, sub, f"in gate.{key}")
                at = value.line_of(k) if isinstance(value, LineDict) else None
                raise InputError(message, file=file, line=at, hint=hint)
            if (key, k) == ("quality", "flaky"):
                if v not in FLAKY_MODES:
                    raise InputError(
                        f"gate.quality.flaky must be one of {', '.join(FLAKY_MODES)}, got {v!r}",
                        file=file,
                        line=value.line_of(k) if isinstance(value, LineDict) else None,
                    )
                continue
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise InputError(
                    f"gate.{key}.{k} must be a number",
                    file=file,
                    line=value.line_of(k) if isinstance(value, LineDict) else None,
                )


def parse_config(data: Any, path: Path) -> Config:
    cfg = Config(root=path.parent.resolve(), path=path)
    if data is None:
        return cfg
    if not isinstance(data, LineDict):
        raise InputError("llmctl.yaml must be a mapping", file=path, line=1)
    _check_keys(data, _TOP_KEYS, path, "llmctl.yaml")
    cfg.lines = {str(key): data.line_of(key) for key in data}
    if "store" in data:
        if isinstance(data["store"], dict):
            cfg.lake = lake_from_mapping(data["store"], root=cfg.root, file=path, line=data.line_of("store"))
        else:
            cfg.store_path = Path(str(data["store"]))
    if "concurrency" in data:
        cfg.concurrency = _num(data, "concurrency", path, int)
        if cfg.concurrency < 1:
            raise InputError("'concurrency' must be at least 1", file=path, line=data.line_of("concurrency"))
    if "timeout" in data:
        cfg.timeout = _num(data, "timeout", path)
        if cfg.timeout <= 0:
            raise InputError("'timeout' must be more than 0 seconds", file=path, line=data.line_of("timeout"))
    if "retries" in data:
        cfg.retries = _num(data, "retries", path, int)
        if cfg.retries < 0:
            raise InputError("'retries' must be 0 or more", file=path, line=data.line_of("retries"))
    if "prompts_dir" in data:
        cfg.prompts_dir = str(data["prompts_dir"])
    if "evalsets_dir" in data:
        cfg.evalsets_dir = str(data["evalsets_dir"])
    if "default_models" in data:
        models = data["default_models"]
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise InputError(
                "'default_models' must be a list of model names",
                file=path,
                line=data.line_of("default_models"),
            )
        cfg.default_models = list(models)
    models_map = data.get("models") or LineDict()
    if not isinstance(models_map, LineDict):
        raise InputError(
            "'models' must be a mapping of alias to a litellm id or {model: ...}",
            file=path,
            line=data.line_of("models"),
        )
    for name, spec in models_map.items():
        cfg.models[name] = _parse_alias(name, spec, path, models_map.line_of(name))
        cfg.models[name].line = models_map.line_of(name)
    _check_fallbacks(cfg.models, path)
    gate = data.get("gate")
    if gate is not None:
        if not isinstance(gate, LineDict):
            raise InputError("'gate' must be a mapping", file=path, line=data.line_of("gate"))
        check_gate(gate, str(path))
        try:
            cfg.gate = cfg.gate.merged(gate)
        except (TypeError, ValueError) as exc:
            raise InputError(f"invalid gate: {exc}", file=path, line=data.line_of("gate")) from None
    if data.get("monitor") is not None:
        cfg.monitor = parse_monitor(data["monitor"], path, data.line_of("monitor"))
    judge = data.get("judge")
    if isinstance(judge, LineDict):
        _check_keys(judge, _JUDGE_KEYS, path, "judge")
    elif judge is not None and not isinstance(judge, str):
        raise InputError("'judge' must be a model name or {model: NAME}", file=path, line=data.line_of("judge"))
    if isinstance(judge, dict) and judge.get("model"):
        cfg.judge_model = str(judge["model"])
    elif isinstance(judge, str):
        cfg.judge_model = judge
    return cfg


def _parse_alias(name: str, spec: Any, path: Path, line: int) -> ModelAlias:
    if isinstance(spec, str):
        return ModelAlias(name=name, model=spec)
    if not isinstance(spec, LineDict):
        raise InputError(f"model {name!r} must be a litellm id or a mapping", file=path, line=line)
    _check_keys(spec, _MODEL_KEYS, path, f"model {name!r}")
    if "model" not in spec:
        raise InputError(f"model {name!r} needs a 'model:' (a litellm id)", file=path, line=line)
    alias = ModelAlias(name=name, model=str(spec["model"]))
    alias.api_base = spec.get("api_base")
    alias.api_key_env = spec.get("api_key_env")
    alias.params = dict(spec.get("params") or {})
    price = spec.get("price") or LineDict()
    if not isinstance(price, LineDict):
        raise InputError(
            "'price' must be a mapping {input_per_1k: USD, output_per_1k: USD}",
            file=path,
            line=spec.line_of("price"),
        )
    if price:
        _check_keys(price, _PRICE_KEYS, path, f"model {name!r} price")
        if "input_per_1k" in price or "output_per_1k" in price:
            alias.input_cost_per_1k = _num(price, "input_per_1k", path) if "input_per_1k" in price else 0.0
            alias.output_cost_per_1k = _num(price, "output_per_1k", path) if "output_per_1k" in price else 0.0
        if "batch_input_per_1k" in price or "batch_output_per_1k" in price:
            alias.batch_input_cost_per_1k = (
                _num(price, "batch_input_per_1k", path) if "batch_input_per_1k" in price else 0.0
            )
            alias.batch_output_cost_per_1k = (
                _num(price, "batch_output_per_1k", path) if "batch_output_per_1k" in price else 0.0
            )
    if "batch" in spec:
        if not isinstance(spec["batch"], bool):
            raise InputError(f"model {name!r}: 'batch' must be true or false", file=path, line=spec.line_of("batch"))
        alias.batch = spec["batch"]
    for key in ("max_concurrency", "rpm", "tpm"):
        if key in spec:
            setattr(alias, key, _num(spec, key, path, int))
    if "timeout" in spec:
        alias.timeout = _num(spec, "timeout", path)
    if "latency_ms" in spec:
        alias.latency_ms = _num(spec, "latency_ms", path)
    alias.stream = bool(spec.get("stream", False))
    if "responses" in spec:
        responses = spec["responses"]
        if not isinstance(responses, dict):
            raise InputError("'responses' must be a mapping", file=path, line=spec.line_of("responses"))
        alias.responses = {
            str(k): _scripted_answer(v, path, responses.line_of(k) if isinstance(responses, LineDict) else None)
            for k, v in responses.items()
        }
    alias.default = spec.get("default")
    alias.function = spec.get("function")
    _parse_transport(alias, spec, path)
    _parse_fleet(alias, spec, path)
    if alias.batch:
        from llmctl.batch import batch_refusal

        refusal = batch_refusal(alias.model, bool(alias.deployments or alias.fallbacks))
        if refusal is not None:
            raise InputError(f"model {name!r}: batch: true, but {refusal}", file=path, line=spec.line_of("batch"))
    return alias


def _parse_fleet(alias: ModelAlias, spec: LineDict, path: Path) -> None:
    """`deployments:` (each {api_base, model, api_key_env, weight}) and `fallbacks:` (alias names)."""
    name = alias.name
    if "deployments" in spec:
        line = spec.line_of("deployments")
        items = spec["deployments"]
        if not isinstance(items, list) or not items:
            message = f"model {name!r}: 'deployments' must be a non-empty list of mappings"
            raise InputError(message, file=path, line=line)
        for item in items:
            if not isinstance(item, LineDict):
                raise InputError(
                    f"model {name!r}: each deployment must be a mapping like {{api_base: URL, weight: 1}}",
                    file=path,
                    line=line,
                )
            _check_keys(item, _DEPLOYMENT_KEYS, path, f"a deployment of model {name!r}")
            at = item.line or line
            for key in ("api_base", "model", "api_key_env"):
                if key in item and not isinstance(item[key], str):
                    raise InputError(f"model {name!r}: a deployment's {key!r} must be text", file=path, line=at)
            weight = _num(item, "weight", path) if "weight" in item else 1.0
            if weight <= 0:
                raise InputError(f"model {name!r}: a deployment's 'weight' must be more than 0", file=path, line=at)
            alias.deployments.append(
                Deployment(item.get("api_base"), item.get("model"), item.get("api_key_env"), float(weight))
            )
        _fleet_allowed(alias, spec, path, "deployments", line, "litellm's Router balances them", "a fleet")
    if "fallbacks" in spec:
        value = spec["fallbacks"]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            message = f"model {name!r}: 'fallbacks' must be a list of model aliases"
            raise InputError(message, file=path, line=spec.line_of("fallbacks"))
        alias.fallbacks = [v.strip() for v in value]
        alias.fallbacks_line = spec.line_of("fallbacks")
        why = "litellm's Router tries them"
        _fleet_allowed(alias, spec, path, "fallbacks", alias.fallbacks_line, why, "an alias with fallbacks")


def _fleet_allowed(alias: ModelAlias, spec: LineDict, path: Path, key: str, line: int, why: str, what: str) -> None:
    """`deployments`/`fallbacks` need litellm's Router: not on a built-in model, not with transport: native."""
    if alias.model in ("echo", "scripted"):
        raise InputError(f"model {alias.name!r}: the built-in {alias.model!r} model has no {key}", file=path, line=line)
    if alias.transport == "native":
        raise InputError(
            f"model {alias.name!r}: transport: native cannot serve {key!r} ({why})",
            file=path,
            line=spec.line_of("transport"),
            hint=f"remove transport: native (auto sends {what} through litellm)",
        )


def _check_fallbacks(models: dict[str, ModelAlias], path: Path) -> None:
    """Every name in a `fallbacks:` list is another alias of llmctl.yaml that litellm can call."""
    for alias in models.values():
        for target in alias.fallbacks:
            other = models.get(target)
            if other is None:
                guess = did_you_mean(target, [n for n in models if n != alias.name])
                raise InputError(
                    f"model {alias.name!r}: fallback {target!r} is not an alias in llmctl.yaml",
                    file=path,
                    line=alias.fallbacks_line,
                    hint=guess or "fallbacks name other aliases of the models: section",
                )
            if target == alias.name:
                raise InputError(
                    f"model {alias.name!r} lists itself in its fallbacks", file=path, line=alias.fallbacks_line
                )
            if other.model in ("echo", "scripted"):
                raise InputError(
                    f"model {alias.name!r}: fallback {target!r} is the offline {other.model!r} model, "
                    "which litellm's Router cannot call",
                    file=path,
                    line=alias.fallbacks_line,
                )


def _parse_transport(alias: ModelAlias, spec: LineDict, path: Path) -> None:
    """`transport:` (auto | native | litellm) and `headers:` of an alias; a `params` option the
    chosen native transport does not implement is refused here, naming it."""
    from llmctl.models._options import NATIVE_PARAMS, TRANSPORT_CHOICES
    from llmctl.models._transport import ROUTE_RESOLVERS

    name = alias.name
    if "transport" in spec:
        value = str(spec["transport"]).strip().lower()
        if value not in TRANSPORT_CHOICES and value not in ROUTE_RESOLVERS:
            choices = (*TRANSPORT_CHOICES, *ROUTE_RESOLVERS)
            raise InputError(
                f"model {name!r}: transport must be one of {', '.join(choices)}, not {value!r}",
                file=path,
                line=spec.line_of("transport"),
            )
        alias.transport = value
    if "headers" in spec:
        headers = spec["headers"]
        if not isinstance(headers, dict):
            raise InputError(
                f"model {name!r}: 'headers' must be a mapping of header name to value",
                file=path,
                line=spec.line_of("headers"),
            )
        for key, value in headers.items():
            key, value = str(key), str(value)
            if not key or any(c in key for c in " :\r\n\t") or any(c in value for c in "\r\n\0"):
                raise InputError(
                    f"model {name!r}: header {key!r} has a character not allowed in an HTTP header",
                    file=path,
                    line=spec.line_of("headers"),
                )
            alias.headers[key] = value
    if alias.transport == "native":
        for key in alias.params:
            if key not in NATIVE_PARAMS:
                raise InputError(
                    f"model {name!r}: option {key!r} is not implemented by the native transport",
                    file=path,
                    line=spec.line_of("params"),
                    hint="remove it, or use transport: litellm (or auto, which picks litellm for it)",
                )


def _scripted_answer(value: Any, path: Any, line: int | None) -> Any:
    """A scripted answer: text, or `{content, tool_calls: [{name, args}]}` (checked here)."""
    if not isinstance(value, dict):
        return str(value)
    extra = sorted(set(value) - {"content", "tool_calls"})
    if extra:
        raise InputError(
            f"unknown key {extra[0]!r} in a scripted answer (allowed: content, tool_calls)", file=path, line=line
        )
    calls = value.get("tool_calls") or []
    if not isinstance(calls, list) or any(
        not isinstance(c, dict) or not isinstance(c.get("name"), str) or not isinstance(c.get("args", {}), dict)
        for c in calls
    ):
        raise InputError("a scripted answer's tool_calls must be a list of {name, args}", file=path, line=line)
    content = value.get("content")
    if content is not None and not isinstance(content, str):
        raise InputError("a scripted answer's content must be a string", file=path, line=line)
    return {"content": content, "tool_calls": [{"name": c["name"], "args": dict(c.get("args") or {})} for c in calls]}
