"""What one evalset's run depends on, and what changed in it between two refs (`eval --changed-only`).

A fingerprint maps each dependency to a canonical value: a content digest for files (prompt with
its includes by the prompt's content hash, the evalset file, its `source:` data, the image files
its cases give `type: image` inputs, the modules of `python` evaluators, judge prompt files) and
the raw entries of llmctl.yaml the run uses (the model aliases it calls, with api_base, params
and price; the judge model; the gate). Two fingerprints are compared entry by entry, so the
reason an evalset is evaluated can be named:
"llmctl.yaml: models.local.price changed".
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from llmctl.config import CONFIG_NAME, Config
from llmctl.errors import InputError
from llmctl.evalset import Evalset
from llmctl.hashing import content_hash, digest_of
from llmctl.prompt import Prompt
from llmctl.sources import Source
from llmctl.types import Case, EvaluatorSpec

ABSENT = "absent"


def _digest(data: bytes | None) -> str:
    return ABSENT if data is None else digest_of(data)


def digest(fingerprint: dict[str, Any]) -> str:
    """One identity for a whole fingerprint (stored with the run)."""
    return content_hash(fingerprint)


def _specs(ev: Evalset) -> list[EvaluatorSpec]:
    specs = list(ev.evaluators)
    for case in ev.inline_cases:
        specs.extend(case.asserts)
    return specs


def _relative(cfg: Config, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return None


def _module_files(cfg: Config, target: str) -> list[str]:
    """The repository files a `python` evaluator's `module:function` may load (path or dotted name)."""
    module = target.rpartition(":")[0]
    if not module:
        return []
    if module.endswith(".py") or "/" in module or "\\" in module:
        return [Path(module).as_posix()]
    base = module.replace(".", "/")
    return [f"{base}.py", f"{base}/__init__.py"]


def _evaluators(cfg: Config, ev: Evalset) -> list[tuple[EvaluatorSpec, Any]]:
    """Each evaluator spec with the evaluator the run builds from it (None where it does not build:
    the run itself reports that). Built as the run builds them, so defaults such as llmctl.yaml's
    judge model are filled in by the same code."""
    from llmctl.evaluators import build_evaluator

    out: list[tuple[EvaluatorSpec, Any]] = []
    for spec in _specs(ev):
        try:
            built = build_evaluator(spec, judge_model=cfg.judge_model, prompts_dir=cfg.prompts_path, resolve=False)
        except Exception:
            built = None
        out.append((spec, built))
    return out


def _model_judges(built: Any) -> list[Any]:
    """The model-graded judges inside an evaluator: itself, or one it delegates to (`refusal` with `judge:`)."""
    from llmctl.evaluators._judge import _ModelJudge

    if built is None:
        return []
    found = [built] if isinstance(built, _ModelJudge) else []
    found += [value for value in vars(built).values() if isinstance(value, _ModelJudge)]
    return found


def _uses_judge_model(spec: EvaluatorSpec, built: Any) -> bool:
    """Whether llmctl.yaml's `judge.model` filled in this evaluator's model (judge, pairwise, moderation...)."""
    return built is not None and spec.config.get("model") is None and built.config.get("model") is not None


def _judge_files(cfg: Config, source: Source, built: Any) -> list[str]:
    """The project-relative prompt files the judges of `built` load from `source`, resolved by the
    judges' own lookup; a project default that is absent is listed too, so adding it is a change."""

    def exists(path: Path) -> bool:
        rel = _relative(cfg, path)
        return rel is not None and source.read(rel) is not None

    files: list[str] = []
    for judge in _model_judges(built):
        try:
            path = judge.prompt_file(exists)
        except InputError:
            path = None  # a `prompt:` found nowhere: the run fails on it
        if path is None:
            from llmctl.evaluators._judge import prompt_file_candidates

            candidates = prompt_file_candidates(
                judge.config.get("prompt"), judge.prompts_dir, judge.prompt_default_name
            )
            path = candidates[0] if candidates else None
        rel = _relative(cfg, path) if path is not None else None
        if rel is not None:
            files.append(rel)
    return files


def _config_data(source: Source, cfg: Config) -> dict[str, Any]:
    rel = _relative(cfg, cfg.path) if cfg.path is not None else CONFIG_NAME
    raw = source.read(rel or CONFIG_NAME)
    if raw is None:
        return {}
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError:
        return {"<unparsable>": _digest(raw)}
    return data if isinstance(data, dict) else {}


def model_names(ev: Evalset, models: Iterable[str], cfg: Config) -> set[str]:
    """Every model name the run may call: the evaluated models, judge models, evaluator `model:`s."""
    names = set(models)
    for spec, built in _evaluators(cfg, ev):
        value = spec.config.get("model")
        if isinstance(value, str):
            names.add(value)
        for judge in [built, *_model_judges(built)]:  # llmctl.yaml's judge model, a delegated judge's model
            value = judge.config.get("model") if judge is not None else None
            if isinstance(value, str):
                names.add(value)
    for name in list(names):  # a fleet's fallback aliases may answer for it
        alias = cfg.models.get(name)
        names.update(alias.fallbacks if alias is not None else ())
    return names


def _image_files(cfg: Config, ev: Evalset, prompts: list[Prompt]) -> list[str]:
    """The image files (project-relative) the cases give the prompts' `type: image` inputs."""
    names = {n for p in prompts for n in p.image_inputs()}
    if not names:
        return []
    from llmctl.images import evalset_loader

    loader = evalset_loader(cfg.root, ev.path, ev.scope, line=None)

    def files(cases: Iterable[Case]) -> set[str]:
        found: set[str] = set()
        for case in cases:
            for name in names:
                path = loader.file_of(case.vars.get(name))
                rel = _relative(cfg, path) if path is not None else None
                if rel is not None:
                    found.add(rel)
        return found

    try:  # streamed, a chunk of source rows at a time (a 100,000-row source is never held)
        found = files(ev.iter_cases())
    except Exception:  # a source that does not load now fails the run itself
        found = files(ev.inline_cases)
    return sorted(found)


def fingerprint(
    cfg: Config,
    source: Source,
    ev: Evalset,
    prompts: list[Prompt],
    names: set[str],
    *,
    uses_default_models: bool,
) -> dict[str, Any]:
    """The fingerprint of one evalset's run as read from `source` (the work tree or a git ref)."""
    fp: dict[str, Any] = {}
    for prompt in prompts:
        fp[f"prompt {prompt.name}"] = prompt.hash
    fp[ev.path] = _digest(source.read(ev.path))
    if ev.source is not None and ev.source.path:
        from llmctl.evalset import resolve_source_path

        try:
            rel = _relative(cfg, resolve_source_path(ev, ev.source))
        except Exception:
            rel = None
        rel = rel or str(ev.source.path)
        fp[rel] = _digest(source.read(rel))
    elif ev.source is not None and ev.source.hf:
        fp["hf dataset"] = f"{ev.source.hf}:{ev.source.hf_name}:{ev.source.split}"  # remote data: its name only
    for rel in _image_files(cfg, ev, prompts):
        fp[rel] = _digest(source.read(rel))
    judged = False
    for spec, built in _evaluators(cfg, ev):
        files: list[str] = []
        if spec.type == "python" and isinstance(spec.config.get("function"), str):
            files = _module_files(cfg, spec.config["function"])
        files += _judge_files(cfg, source, built)
        judged = judged or _uses_judge_model(spec, built)
        for rel in files:
            fp[rel] = _digest(source.read(rel))
    data = _config_data(source, cfg)
    raw_models = data.get("models")
    models: dict[str, Any] = raw_models if isinstance(raw_models, dict) else {}
    for name in sorted(names):
        if name in models:
            fp[f"{CONFIG_NAME}: models.{name}"] = models[name]
    if judged:  # only evalsets whose evaluators llmctl.yaml's judge model grades depend on it
        fp[f"{CONFIG_NAME}: judge"] = data.get("judge")
    fp[f"{CONFIG_NAME}: gate"] = data.get("gate")
    if uses_default_models:
        fp[f"{CONFIG_NAME}: default_models"] = data.get("default_models")
    return fp


def _sub_changes(label: str, before: Any, after: Any) -> list[str]:
    """`llmctl.yaml: models.local` -> `llmctl.yaml: models.local.price changed` where one sub-key differs."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            if before.get(key) != after.get(key):
                out.extend(_sub_changes(f"{label}.{key}", before.get(key), after.get(key)))
        return out
    if before is None:
        return [f"{label} added"]
    if after is None:
        return [f"{label} removed"]
    return [f"{label} changed"]


def changes(baseline: dict[str, Any], candidate: dict[str, Any]) -> list[str]:
    """Why two fingerprints differ, one reason per dependency (empty: nothing this run depends on changed)."""
    reasons: list[str] = []
    for key in sorted(set(baseline) | set(candidate)):
        before, after = baseline.get(key), candidate.get(key)
        if before == after:
            continue
        if key.startswith(f"{CONFIG_NAME}: "):
            reasons.extend(_sub_changes(key, before, after))
        elif key.startswith("prompt "):
            if before is None:
                reasons.append(f"{key} is new")
            elif after is None:
                reasons.append(f"{key} was removed")
            else:
                reasons.append(f"{key} changed (template or includes)")
        elif before in (None, ABSENT):
            reasons.append(f"{key} added")
        elif after in (None, ABSENT):
            reasons.append(f"{key} removed")
        else:
            reasons.append(f"{key} changed")
    return reasons
