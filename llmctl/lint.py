"""`llmctl lint`: validate every prompt and evalset, collecting all problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmctl.config import Config
from llmctl.errors import InputError, LlmctlError
from llmctl.evalset import Evalset, display_path, find_evalsets, load_evalset, resolve_source_path
from llmctl.prompt import Prompt, PromptLibrary
from llmctl.sources import WorktreeSource


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


def lint_evalset(ev: Evalset, library: PromptLibrary, cfg: Config) -> list[LlmctlError]:
    """Problems in an evalset: unknown prompts or evaluators, bad options, missing variables."""
    from llmctl.evaluators import build_evaluator

    problems: list[LlmctlError] = []
    prompts: list[Prompt] = []
    for ref in ev.prompts:
        if ref.ref is not None:
            continue  # versions are resolved (and checked) at eval time
        try:
            prompts.append(library.get(ref.name))
        except InputError as exc:
            problems.append(InputError(exc.message, file=ev.path, line=ref.line, hint=exc.hint))
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
    if ev.source is not None and ev.source.path:
        try:
            _check_source_columns(ev, resolve_source_path(ev, ev.source))
        except InputError as exc:
            problems.append(exc)
    for prompt in prompts:
        required = [n for n, s in prompt.inputs.items() if s.required]
        for case in ev.inline_cases:
            missing = [n for n in required if n not in case.vars]
            if missing:
                problems.append(
                    InputError(
                        f"case {case.id!r} lacks required variable(s) {', '.join(missing)} of prompt {prompt.name!r}",
                        file=ev.path,
                        line=case.metadata.get("_line"),
                    )
                )
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


def lint_project(cfg: Config) -> LintReport:
    """Lint every prompt and evalset of the project's work tree."""
    report = LintReport()
    library = PromptLibrary(WorktreeSource(cfg.root), cfg.prompts_dir)
    names: dict[str, str] = {}
    for relpath in library.files():
        report.prompts += 1
        try:
            prompt = library.load_path(relpath)
        except LlmctlError as exc:
            report.problems.append(exc)
            continue
        if prompt.name in names:
            report.problems.append(
                InputError(f"prompt name {prompt.name!r} is also used by {names[prompt.name]}", file=relpath, line=1)
            )
        names[prompt.name] = relpath
        report.problems.extend(lint_prompt(prompt))
    for path in find_evalsets(cfg.root, cfg.evalsets_dir):
        report.evalsets += 1
        try:
            ev = load_evalset(path, cfg.root, cfg.evalsets_dir)
        except LlmctlError as exc:
            report.problems.append(exc)
            continue
        report.problems.extend(lint_evalset(ev, library, cfg))
        report.warnings.extend(lint_gate_power(ev, cfg))
    return report


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
    if ev.source is not None or not n or not 0 < gate.max_drop < 1:
        return []
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
    seen = f"at best a drop of {mde * 100:.1f} pts" if mde is not None else "no drop at all"
    return [
        InputError(
            f"warning: gate.quality.max_drop is {gate.max_drop * 100:g} pts, but {n} case(s) detect {seen} "
            "with 80% power: smaller regressions will mostly pass the gate unseen",
            file=ev.path,
            line=1,
            hint=f"add cases (at least {more:,} for {gate.max_drop * 100:g} pts)" if more else "add cases",
        )
    ]
