"""`llmctl lint`: validate every prompt and evalset, collecting all problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmctl import fmt
from llmctl.config import Config
from llmctl.errors import InputError, LlmctlError
from llmctl.evalset import Evalset, display_path, find_evalsets, load_evalset, resolve_source_path
from llmctl.prompt import Prompt, PromptLibrary, name_from_path
from llmctl.sources import WorktreeSource
from llmctl.suggest import closest
from llmctl.types import Case, EvaluatorSpec


@dataclass
class LintReport:
    prompts: int = 0
    evalsets: int = 0
    problems: list[LlmctlError] = field(default_factory=list)
    warnings: list[LlmctlError] = field(default_factory=list)  # printed, but lint still passes

    @property
    def ok(self) -> bool:
        return not self.problems


def lint_prompt(prompt: Prompt) -> list[LlmctlError]:
    """Problems in a parsed prompt: variables a template uses but `inputs` does not declare."""
    problems: list[LlmctlError] = []
    try:
        used = prompt.variables_used()
    except InputError as exc:
        return [exc]
    if prompt.output_schema is not None:
        import jsonschema  # deferred: only prompts with an output contract pay for it

        try:
            jsonschema.validators.validator_for(prompt.output_schema).check_schema(prompt.output_schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            problems.append(
                InputError(
                    f"invalid output.json_schema at {where}: {exc.message}",
                    file=prompt.path,
                    line=prompt.output_schema_line,
                )
            )
    for var, line in sorted(used.items(), key=lambda kv: (kv[1], kv[0])):
        if var not in prompt.inputs:
            problems.append(
                InputError(
                    f"variable {var!r} is used by the template but not declared in inputs",
                    file=prompt.path,
                    line=line,
                    hint=f"add `{var}: {{type: string}}` under inputs:",
                )
            )
    return problems


def lint_evalset(
    ev: Evalset, library: PromptLibrary, cfg: Config, broken: set[str] | frozenset[str] = frozenset()
) -> list[LlmctlError]:
    """Problems in an evalset: unknown prompts, models or evaluators, bad options, missing variables.

    `broken`: names of prompts whose file failed to load (already reported; not blamed on the evalset).
    """
    from llmctl.evaluators import build_evaluator

    problems: list[LlmctlError] = []
    prompts: list[Prompt] = []
    for ref in ev.prompts:
        if ref.ref is not None:
            continue  # versions are resolved (and checked) at eval time
        try:
            prompts.append(library.get(ref.name))
        except InputError as exc:
            if ref.name not in broken:
                problems.append(InputError(exc.message, file=ev.path, line=ref.line, hint=exc.hint))
    for name, line in zip(ev.models or [], ev.model_lines, strict=False):
        problems.extend(check_model(name, cfg, file=ev.path, line=line))
    specs = list(ev.evaluators)
    for case in ev.inline_cases:
        specs.extend(case.asserts)
    # json_schema checks default to the prompt's output contract; judges to llmctl.yaml's judge.
    schemas: list[dict[str, Any] | None] = [p.output_schema for p in prompts if p.output_schema is not None]
    schemas = schemas or [None]
    for spec in specs:
        seen: set[str] = set()
        for schema in schemas:
            try:
                build_evaluator(
                    spec,
                    judge_model=cfg.judge_model,
                    schema=schema,
                    prompts_dir=cfg.prompts_path,
                    resolve=False,
                )
            except InputError as exc:
                if exc.file is None:
                    exc.file, exc.line = spec.file, spec.line
                if exc.located() not in seen:
                    seen.add(exc.located())
                    problems.append(exc)
        model = spec.config.get("model") if isinstance(spec.config, dict) else None
        if isinstance(model, str) and spec.type != "moderation":
            problems.extend(check_model(model, cfg, file=spec.file, line=spec.line))
    problems.extend(_check_references(ev))
    if ev.source is not None and ev.source.path:
        try:
            _check_source_columns(ev, resolve_source_path(ev, ev.source))
            ev.cases()  # the rows as eval reads them (its loader): what eval rejects, lint reports
        except InputError as exc:
            problems.append(exc)
    problems.extend(_check_case_variables(ev, prompts))
    for prompt in prompts:
        for case in ev.inline_cases:
            problems.extend(_image_problems(ev, prompt, case))
    return problems


def check_model(name: str, cfg: Config, *, file: str | None, line: int | None) -> list[LlmctlError]:
    """The problem with model `name` that `eval` would refuse (unknown alias, bad alias), at file:line.

    API keys are not checked: lint runs where no keys are set (forks, pre-commit)."""
    from llmctl.models import resolve_model

    try:
        resolve_model(name, cfg)
    except InputError as exc:
        alias = cfg.models.get(name.strip())
        if alias is not None and cfg.path is not None:  # the alias itself is wrong: point at its definition
            return [InputError(exc.message, file=_config_file(cfg), line=alias.line, hint=exc.hint)]
        return [InputError(exc.message, file=file, line=line, hint=exc.hint)]
    return []


def _config_file(cfg: Config) -> str:
    assert cfg.path is not None
    return display_path(cfg.path, cfg.root)


def _check_references(ev: Evalset) -> list[LlmctlError]:
    """Evaluators that compare with a `value` (equals, contains, regex, ...) but have none, on cases
    with no `expected` either: each such check would be an error on every run."""
    from llmctl.evaluators import lookup

    def needs_reference(spec: EvaluatorSpec) -> bool:
        info = lookup(spec.type) if isinstance(spec.type, str) else None
        config = spec.config if isinstance(spec.config, dict) else {}
        return info is not None and "value" in info.options and config.get("value") is None

    problems: list[LlmctlError] = []
    for case in ev.inline_cases:
        if case.expected is not None:
            continue
        for spec in case.asserts:
            if needs_reference(spec):
                problems.append(
                    InputError(
                        f"evaluator {spec.type!r} of case {case.id!r} has no 'value' and the case has no 'expected'",
                        file=spec.file,
                        line=spec.line,
                        hint="add `value: ...` to the evaluator, or `expected: ...` to the case",
                    )
                )
    shared = [spec for spec in ev.evaluators if needs_reference(spec)]
    if not shared:
        return problems
    lacking = [case.id for case in ev.inline_cases if case.expected is None]
    if ev.source is not None and not _source_has_expected(ev):
        lacking.append(f"every row of {ev.source.path or ev.source.hf}")
    if lacking:
        shown = ", ".join(repr(c) for c in lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
        for spec in shared:
            problems.append(
                InputError(
                    f"evaluator {spec.type!r} has no 'value' and case(s) {shown} have no 'expected'",
                    file=spec.file,
                    line=spec.line,
                    hint="add `value: ...` to the evaluator, or `expected: ...` to those cases",
                )
            )
    return problems


def _source_has_expected(ev: Evalset) -> bool:
    """Whether the rows of `source:` can carry an expected value (unknown counts as yes)."""
    assert ev.source is not None
    column = ev.source.columns.get("expected", "expected")
    if not ev.source.path:
        return True  # a Hugging Face dataset: its columns are known only when it is downloaded
    try:
        columns = _source_columns(resolve_source_path(ev, ev.source))
    except (InputError, OSError):
        return True  # reported by the source checks
    return columns is None or column in columns


def _check_case_variables(ev: Evalset, prompts: list[Prompt]) -> list[LlmctlError]:
    """Variables a prompt needs (required inputs, undeclared template variables) that a case lacks,
    with "did you mean" when the case has a variable no prompt uses that is close to it."""
    problems: list[LlmctlError] = []
    known: set[str] = set()
    needs: dict[str, list[str]] = {}
    for prompt in prompts:
        try:
            used = prompt.variables_used()
        except InputError:
            used = {}  # reported by lint_prompt
        known.update(prompt.inputs, used)
        required = [n for n, s in prompt.inputs.items() if s.required]
        required += [v for v in sorted(used) if v not in prompt.inputs]
        needs[prompt.name] = required
    for case in ev.inline_cases:
        unused = [v for v in case.vars if v not in known]
        line = case.metadata.get("_line")
        for prompt_name, required in needs.items():
            missing = [n for n in required if n not in case.vars]
            if not missing:
                continue
            guesses = [f"{u!r} for {m!r}" for m in missing if (u := closest(m, unused)) is not None]
            unused_list = ", ".join(repr(u) for u in unused)
            hint = f"did you mean {', '.join(guesses)}? (no prompt uses {unused_list})" if guesses else None
            problems.append(
                InputError(
                    f"case {case.id!r} lacks required variable(s) {', '.join(missing)} of prompt {prompt_name!r}",
                    file=ev.path,
                    line=line,
                    hint=hint,
                )
            )
        optional = sorted(known - set(case.vars) - {m for r in needs.values() for m in r})
        for var in unused:
            guess = closest(var, optional)
            if guess is not None:
                problems.append(
                    InputError(
                        f"case {case.id!r} sets variable {var!r}, which no prompt of the evalset uses",
                        file=ev.path,
                        line=line,
                        hint=f"did you mean {guess!r}?",
                    )
                )
    return problems


def _image_problems(ev: Evalset, prompt: Prompt, case: Case) -> list[LlmctlError]:
    """A case's image inputs that cannot be sent: missing, outside evalsets/, too large, not an image."""
    from llmctl.images import evalset_loader

    names = [n for n in prompt.image_inputs() if isinstance(case.vars.get(n), str)]
    if not names:
        return []
    loader = evalset_loader(
        ev.root, ev.path, ev.scope, line=case.metadata.get("_line"), lines=case.metadata.get("_var_lines")
    )
    problems: list[LlmctlError] = []
    for name in names:
        try:
            loader(name, case.vars[name])
        except InputError as exc:
            problems.append(InputError(f"case {case.id!r}: {exc.message}", file=exc.file, line=exc.line))
    return problems


def _source_columns(path: Path) -> list[str] | None:
    """The column names of a source file, read from its header only (lint stays fast)."""
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        if suffix == ".csv":
            import csv
            import io

            header = fh.readline().decode("utf-8-sig", errors="replace")
            return next(csv.reader(io.StringIO(header)), [])
        if suffix in (".jsonl", ".ndjson"):
            import json

            for raw in fh:
                if raw.strip():
                    try:
                        row = json.loads(raw)
                    except ValueError:
                        return None  # reported when the eval reads the file
                    return list(row) if isinstance(row, dict) else None
            return []
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return None


def _check_source_columns(ev: Evalset, path: Path) -> None:
    """The columns that `source.columns` maps must exist in the file."""
    assert ev.source is not None
    columns = _source_columns(path)
    if columns is None:
        return
    if not columns:
        raise InputError("source file is empty", file=display_path(path, ev.root), line=1)
    mapping = ev.source.columns
    wanted: list[str] = []
    vars_cols = mapping.get("vars")
    if isinstance(vars_cols, str):
        wanted.append(vars_cols)
    elif isinstance(vars_cols, list):
        wanted.extend(str(c) for c in vars_cols)
    for key in ("id", "expected"):
        if isinstance(mapping.get(key), str):
            wanted.append(mapping[key])
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise InputError(
            f"source {ev.source.path} has no column(s) {', '.join(missing)} "
            f"(its columns: {', '.join(sorted(columns))})",
            file=ev.path,
            line=ev.source.line,
        )


def lint_project(cfg: Config, evalsets: list[str] | None = None) -> LintReport:
    """Lint every prompt and evalset of the project's work tree (or only the named `evalsets`,
    names or paths as `eval` takes them; an unknown name is an InputError)."""
    report = LintReport()
    library = PromptLibrary(WorktreeSource(cfg.root), cfg.prompts_dir)
    names: dict[str, str] = {}
    broken: set[str] = set()
    report.problems.extend(_lint_config_models(cfg))
    from llmctl.traces._evaluate import check_monitor_evaluators

    report.problems.extend(check_monitor_evaluators(cfg.monitor))
    for relpath in library.files():
        report.prompts += 1
        try:
            prompt = library.load_path(relpath)
        except LlmctlError as exc:
            report.problems.append(exc)
            broken.add(name_from_path(relpath, cfg.prompts_dir))
            continue
        if prompt.name in names:
            report.problems.append(
                InputError(f"prompt name {prompt.name!r} is also used by {names[prompt.name]}", file=relpath, line=1)
            )
        names[prompt.name] = relpath
        report.problems.extend(lint_prompt(prompt))
        if prompt.model is not None:
            report.problems.extend(check_model(prompt.model, cfg, file=prompt.path, line=prompt.model_line))
    for path in find_evalsets(cfg.root, cfg.evalsets_dir, evalsets):
        report.evalsets += 1
        try:
            ev = load_evalset(path, cfg.root, cfg.evalsets_dir)
        except LlmctlError as exc:
            report.problems.append(exc)
            continue
        report.problems.extend(lint_evalset(ev, library, cfg, broken))
        report.warnings.extend(lint_gate_power(ev, cfg))
    if evalsets is None:  # the committed human labels, as eval, calibrate and the viewer read them
        from llmctl.labels import lint_labels

        report.problems.extend(lint_labels(cfg.root))
    report.problems = _unique(report.problems)
    return report


def _lint_config_models(cfg: Config) -> list[LlmctlError]:
    """llmctl.yaml's aliases, `default_models` and `judge` model: each must resolve."""
    if cfg.path is None:
        return []
    shown = _config_file(cfg)
    problems: list[LlmctlError] = []
    for name in cfg.models:
        problems.extend(check_model(name, cfg, file=shown, line=cfg.models[name].line))
    if "default_models" in cfg.lines:
        for name in cfg.default_models:
            problems.extend(check_model(name, cfg, file=shown, line=cfg.lines["default_models"]))
    if cfg.judge_model is not None:
        problems.extend(check_model(cfg.judge_model, cfg, file=shown, line=cfg.lines.get("judge")))
    return problems


def _unique(problems: list[LlmctlError]) -> list[LlmctlError]:
    """The problems in order, each reported once (an alias used in many places is one problem)."""
    seen: set[str] = set()
    out = []
    for problem in problems:
        if problem.located() not in seen:
            seen.add(problem.located())
            out.append(problem)
    return out


SMOKE_CASES = 10  # evalsets smaller than this get no power warning from lint


def lint_gate_power(ev: Evalset, cfg: Config) -> list[LlmctlError]:
    """A warning when the evalset's `gate.quality.max_drop` is below the smallest pass-rate drop its
    cases can detect with 80% power even at best: every case deterministic, so only the regression
    makes the runs disagree (`stats.min_detectable_drop` with no noise; the gate itself states the
    drop it can detect from the observed disagreement on every comparison). The level is the pass
    rate's first Holm step with the gate's cost and latency checks. Evalsets with a `source:` are
    skipped: counting their rows would load them."""
    import math

    from llmctl.gate import PASS_RATE_WEIGHT

    gate = cfg.gate.merged(ev.gate)
    n = len(ev.inline_cases)
    if ev.source is not None or n < SMOKE_CASES or not 0 < gate.max_drop < 1:
        return []  # fewer cases: a smoke test (the verdict's detectable-drop note still says what it sees)
    others = (gate.cost_max_increase is not None) + (gate.latency_p95_max_increase is not None)
    level = (1.0 - gate.confidence) * PASS_RATE_WEIGHT / (PASS_RATE_WEIGHT + others)
    # With no noise every discordant pair is a drop, and the mid-p test needs k of them with
    # 0.5^(k + 1) <= level; far more expected than that (Chernoff-style margin) needs no SciPy.
    expected, needed = n * gate.max_drop, math.log2(1.0 / level) - 1.0
    if expected - needed >= 4.0 * math.sqrt(expected) + 2.0:
        return []
    from llmctl import stats

    best = stats.discordance(stats.CaseSpread(1.0, 0.0), ev.repeat)
    mde = stats.min_detectable_drop(n, best, level)
    if mde is not None and gate.max_drop >= mde:
        return []
    more = stats.cases_needed(gate.max_drop, best, level)
    seen = f"at best a drop of {fmt.pts(mde, signed=False)}" if mde is not None else "no drop at all"
    return [
        InputError(
            f"warning: gate.quality.max_drop is {gate.max_drop * 100:g} pts, but {n} case(s) detect {seen} "
            "with 80% power: smaller regressions will mostly pass the gate unseen",
            file=ev.path,
            line=1,
            hint=f"add cases (at least {more:,} for {gate.max_drop * 100:g} pts)" if more else "add cases",
        )
    ]
