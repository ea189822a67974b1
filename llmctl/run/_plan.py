"""What one `llmctl eval` will call: the options, each side's plan, and the jobs it expands to.

A `Plan` is one side (candidate or baseline) of one evalset: its prompts (at a
ref, or as the baseline ref has them), models, repeat and selected cases
(`--shard`, `--case`, `--rerun-failed`, `--limit`). The `Planner` builds plans,
checks them before anything is stored (every case rendered, every evaluator
built), counts a dry run, and expands a plan into `Job`s: one rendered
(prompt, case, model, repeat) with its result key and cache key, which the
pipeline executes for one `Side` (a stored run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmctl.config import Config
from llmctl.errors import InputError
from llmctl.evalset import Evalset
from llmctl.hashing import sha256_hex
from llmctl.prompt import Prompt, PromptLibrary
from llmctl.sandbox import DeadlineExceeded
from llmctl.sources import Source, WorktreeSource
from llmctl.types import CallResult, Case, EvaluatorSpec, Messages, ModelSpec

if TYPE_CHECKING:
    from llmctl.evaluators import Evaluator
    from llmctl.run._finalize import EvalOutcome
    from llmctl.store import RunWriter, Store


@dataclass
class EvalOptions:
    """What `llmctl eval` was asked to do (the CLI's flags)."""

    evalsets: list[str] = field(default_factory=list)
    models: list[str] | None = None
    baseline: str | None = None
    changed_only: bool = False
    concurrency: int | None = None
    repeat: int | None = None
    no_cache: bool = False
    resume: str | None = None
    shard: tuple[int, int] | None = None  # (index from 1, count)
    dry_run: bool = False
    prompt_ref: str | None = None  # evaluate prompts as they are at this ref (default: work tree)
    deadline: float | None = None  # seconds for the whole run
    limit: int | None = None  # only the first N cases of each evalset (after the other filters)
    case_globs: list[str] | None = None  # only cases whose id matches one of these globs
    rerun_failed: str | None = None  # only the cases that failed or errored in this run
    batch: bool = False  # --batch: uncached calls through the providers' batch APIs (llmctl.batch)
    no_wait: bool = False  # --no-wait: submit the batches and stop; `--resume RUN` collects
    batch_poll: float = 15.0  # seconds between looks at a batch while waiting

    def __post_init__(self) -> None:
        """The option rules, checked once for the CLI and the library alike: an `InputError` (exit 2)
        names the option (by its `llmctl eval` flag) that breaks one."""
        if self.changed_only and not self.baseline:
            raise InputError("--changed-only needs --baseline REF")
        if self.deadline is not None and not self.deadline > 0:
            raise InputError(f"--deadline must be a positive number of seconds, got {self.deadline:g}")
        for flag, value in (("--concurrency", self.concurrency), ("--repeat", self.repeat), ("--limit", self.limit)):
            if value is not None and value < 1:
                raise InputError(f"{flag} must be at least 1, got {value}")
        if self.shard is not None and not (self.shard[1] >= 1 and 1 <= self.shard[0] <= self.shard[1]):
            raise InputError(f"--shard expects I/N with 1 <= I <= N, got {self.shard[0]}/{self.shard[1]}")
        if not self.batch_poll >= 0:
            raise InputError(f"--batch-poll must be a number of seconds >= 0, got {self.batch_poll:g}")
        if self.resume:
            given = {
                "EVALSET": bool(self.evalsets),
                "--model": bool(self.models),
                "--baseline": self.baseline is not None,
                "--repeat": self.repeat is not None,
                "--shard": self.shard is not None,
                "--at": self.prompt_ref is not None,
                "--limit": self.limit is not None,
                "--case": bool(self.case_globs),
                "--rerun-failed": self.rerun_failed is not None,
                "--changed-only": self.changed_only,
                "--dry-run": self.dry_run,
            }
            clash = [name for name, used in given.items() if used]
            if clash:
                raise InputError(
                    f"--resume completes a run as it was started; {', '.join(clash)} cannot change it",
                    hint="drop those options, or start a new run",
                )


@dataclass
class Job:
    prompt: Prompt
    model: ModelSpec
    case: Case
    repeat_index: int
    messages: Messages
    params: dict[str, Any]
    key: str  # result key
    cache_key: str | None
    evaluators: list[Evaluator]
    side: Side | None = None  # the run it belongs to (None: a dry run)
    follows: asyncio.Future[CallResult] | None = None  # the same request already in flight: share its result


class CaseStream:
    """The selected cases of one side, read again from the evalset each time they are iterated
    (`Evalset.iter_cases`: `CHUNK` source rows at a time), so a plan never holds them all.
    `len()` is known after the first full pass (validation makes one) and cached."""

    def __init__(self, ev: Evalset, select: Callable[[Iterator[Case]], Iterator[Case]]) -> None:
        self._ev = ev
        self._select = select
        self._len: int | None = None

    def __iter__(self) -> Iterator[Case]:
        n = 0
        source = self._ev.iter_cases()
        for case in self._select(source):
            n += 1
            yield case
        if self._len is None:
            for _ in source:  # past a --limit: the rest is still checked (a duplicate id is an error)
                pass
        self._len = n

    def __len__(self) -> int:
        if self._len is None:
            for _ in self:
                pass
        assert self._len is not None
        return self._len

    def __bool__(self) -> bool:
        return len(self) > 0


@dataclass
class Plan:
    """One side (candidate or baseline) of one evalset: the prompts to evaluate."""

    evalset: Evalset
    prompts: list[Prompt]
    models: list[ModelSpec]
    repeat: int
    cases: CaseStream | list[Case]  # streamed from the evalset (a list where built by hand)
    fingerprint: str | None = None  # llmctl.fingerprint.digest of what the run depends on
    reasons: list[str] | None = None  # why it is evaluated (None: not compared with a baseline)


@dataclass
class Side:
    """One run being executed: its plan, its stored run and what of it is finished."""

    plan: Plan
    run_id: str
    role: str
    skip: set[str]  # result keys finished before this invocation (a resume)
    finished: set[str] = field(default_factory=set)  # result keys finished so far
    writer: RunWriter | None = None  # while executing


def _shard_of(case_id: str, count: int) -> int:
    """Stable shard (0-based) of a case: by hash of its id, so every machine agrees."""
    return int(sha256_hex(case_id)[:8], 16) % count


def prompt_at_or_worktree(cfg: Config, library: PromptLibrary, name: str, ref: str | None) -> Prompt:
    if ref is None:
        return library.get(name)
    from llmctl.release import prompt_at

    return prompt_at(cfg, name, ref)


def config_at(cfg: Config, source: Source) -> Config | None:
    """llmctl.yaml as `source` has it (None when absent or invalid there: the project's is used)."""
    from llmctl.config import CONFIG_NAME, parse_config
    from llmctl.yamlio import load_yaml_text

    path = cfg.path or cfg.root / CONFIG_NAME
    try:
        rel = path.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return None
    raw = source.read(rel)
    if raw is None:
        return None
    try:
        return parse_config(load_yaml_text(raw.decode("utf-8"), rel), path)
    except (InputError, UnicodeDecodeError):
        return None


def _loop_params(case: Case, params: dict[str, Any]) -> dict[str, Any]:
    """The params a cache key covers: an agent loop's answer depends on its tool results and turns too."""
    if (case.max_turns <= 1 or case.tool_results is None) and not case.turns:
        return params
    loop = {"tool_results": case.tool_results, "max_turns": case.max_turns, "turns": case.turns}
    return {**params, "_llmctl_loop": loop}


def render_case(ev: Evalset, prompt: Prompt, case: Case) -> Messages:
    """`prompt` rendered with `case`'s vars; its image inputs are read relative to the evalset
    and stay inside the evalsets folder (llmctl.images)."""
    from llmctl.images import evalset_loader

    loader = None
    if prompt.image_inputs():
        line = case.metadata.get("_line")
        loader = evalset_loader(ev.root, ev.path, ev.scope, line=line, lines=case.metadata.get("_var_lines"))
    return prompt.render(case.vars, image_loader=loader)


def case_error(exc: InputError, ev: Evalset, prompt: Prompt, case: Case) -> InputError:
    """A case's render failure at the case's line in the evalset (an error located in the
    evalset itself, such as a bad image path, keeps its own line)."""
    if exc.file == ev.path:
        return InputError(f"case {case.id!r}: {exc.message}", file=ev.path, line=exc.line, hint=exc.hint)
    return InputError(
        f"case {case.id!r}: {exc.message}",
        file=ev.path,
        line=case.metadata.get("_line"),
        hint=f"while rendering {_located(exc, prompt.path)}",
    )


def _pinned_name(prompt: Prompt, pref: Any, ev: Evalset) -> Prompt:
    """`add@v1` when the evalset lists prompt `add` more than once (`prompt: [add@v1, add@v2]`):
    each version is its own prompt in the store (its result keys, comparisons and reports)."""
    if pref.ref is None or sum(1 for p in ev.prompts if p.name == pref.name) < 2:
        return prompt
    import dataclasses

    return dataclasses.replace(prompt, name=f"{prompt.name}@{pref.ref}")


def _located(exc: InputError, default: str) -> str:
    """`file:line` of a render error (the prompt or the included file it happened in)."""
    file = exc.file or default
    return f"{file}:{exc.line}" if exc.line else file


class Planner:
    """Builds and checks the plans of one invocation (one instance per Runner).

    `store` is called only when a plan needs the store (`--rerun-failed`), so a
    dry run or a render error never opens it. `base_cfg` is llmctl.yaml as it is
    at `--baseline` (its aliases price that side), set by the Runner.
    """

    def __init__(self, cfg: Config, options: EvalOptions, store: Callable[[], Store]) -> None:
        self.cfg = cfg
        self.options = options
        self._store = store
        self._evaluator_cache: dict[tuple[int, str], Any] = {}
        self._failed_ids: set[str] | None = None
        self.base_cfg: Config | None = None

    @property
    def store(self) -> Store:
        return self._store()

    def resolve_models(self, names: list[str], cfg: Config | None = None) -> list[ModelSpec]:
        """Specs for `names` from `cfg` (the baseline's llmctl.yaml) where it has the alias, else the project's."""
        from llmctl.models import check_credentials, resolve_model

        specs = []
        for name in names:
            use = cfg if cfg is not None and name in cfg.models else self.cfg
            spec = resolve_model(name, use)
            if not self.options.dry_run:
                check_credentials(spec)
            specs.append(spec)
        return specs

    def plan(
        self, ev: Evalset, library: PromptLibrary, ref: str | None, at_ref: dict[str, Prompt] | None = None
    ) -> Plan:
        """The prompts, models and cases of one side. With `at_ref` (every prompt at a baseline
        ref), prompts missing there are left out: they are new in this change."""
        prompts = []
        for pref in ev.prompts:
            if at_ref is not None and pref.ref is None:
                if pref.name in at_ref:
                    prompts.append(at_ref[pref.name])
                continue
            # a version pinned in the evalset (`add@v1`) is that version on both sides
            use = pref.ref if ref is None or at_ref is not None else ref
            try:
                prompt = prompt_at_or_worktree(self.cfg, library, pref.name, use)
            except InputError as exc:
                if exc.file is None:
                    exc.file, exc.line = ev.path, pref.line
                raise
            if prompt is not None:
                prompts.append(_pinned_name(prompt, pref, ev) if use == pref.ref else prompt)
        model_names = self.options.models or ev.models
        origin = "--model" if self.options.models else "the evalset's models:"
        if not model_names:
            defaults = {p.model for p in prompts if p.model}
            model_names = sorted(defaults) if defaults else list(self.cfg.default_models)
            named = ", ".join(p.name for p in prompts if p.model)
            origin = f"the model of prompt {named} (the evalset has no models:)" if defaults else "default_models"
        try:
            models = self.resolve_models(model_names, self.base_cfg if at_ref is not None else None)
        except InputError as exc:  # a missing key: say which evalset needs the model, and why
            if exc.file is None:
                exc.file = ev.path
                exc.line = ev.model_lines[0] if ev.models and ev.model_lines and not self.options.models else None
                exc.hint = f"{exc.hint + '; ' if exc.hint else ''}evalset {ev.name} uses it as {origin}"
            raise
        repeat = self.options.repeat or ev.repeat
        if self.options.rerun_failed is not None:
            self._failed_cases(self.options.rerun_failed)  # an unknown run is an error now
        cases = CaseStream(ev, self._selected)
        return Plan(evalset=ev, prompts=prompts, models=models, repeat=repeat, cases=cases)

    def _selected(self, cases: Iterator[Case]) -> Iterator[Case]:
        """`--shard`, `--case GLOB`, `--rerun-failed RUN` and `--limit N`, in that order, as a stream."""
        import fnmatch
        import itertools

        opts = self.options
        if opts.shard is not None:
            index, count = opts.shard
            cases = (c for c in cases if _shard_of(c.id, count) == index - 1)
        if opts.case_globs:
            globs = opts.case_globs
            cases = (c for c in cases if any(fnmatch.fnmatchcase(c.id, g) for g in globs))
        if opts.rerun_failed is not None:
            failed = self._failed_cases(opts.rerun_failed)
            cases = (c for c in cases if c.id in failed)
        if opts.limit is not None:
            cases = itertools.islice(cases, opts.limit)
        return cases

    def _failed_cases(self, run_ref: str) -> set[str]:
        if self._failed_ids is None:
            run = self.store.get_run(run_ref)
            self._failed_ids = {o.case_id for o in self.store.outcomes(str(run.id)) if not o.passed or o.error}
        return self._failed_ids

    def evaluators_for(self, prompt: Prompt, specs: list[EvaluatorSpec]) -> list[Evaluator]:
        from llmctl.evaluators import build_evaluator

        out = []
        for spec in specs:
            key = (id(spec), prompt.hash)
            built = self._evaluator_cache.get(key)
            if built is None:
                built = build_evaluator(
                    spec,
                    judge_model=self.cfg.judge_model,
                    schema=prompt.output_schema,
                    prompts_dir=self.cfg.prompts_path,
                )
                self._evaluator_cache[key] = built
            out.append(built)
        return out

    def jobs(self, plan: Plan, skip: set[str], *, render: bool = True, side: Side | None = None) -> Iterator[Job]:
        """Every (prompt, case, model, repeat) not in `skip`, rendered (`render=False`: with no
        messages, for recording cases the deadline left unfinished without rendering them again)."""
        from llmctl.models import cache_key
        from llmctl.store import result_key

        use_cache = not self.options.no_cache and render
        for prompt in plan.prompts:
            params = {**prompt.params, **prompt.request_params(), **plan.evalset.params}
            for case in plan.cases:
                evaluators = self.evaluators_for(prompt, [*plan.evalset.evaluators, *case.asserts])
                if not render:
                    messages: list[dict[str, Any]] = []
                    for model in plan.models:
                        for r in range(plan.repeat):
                            key = result_key(prompt.name, case.id, model.name, r)
                            if key not in skip:
                                yield Job(prompt, model, case, r, messages, params, key, None, evaluators, side)
                    continue
                try:
                    messages = render_case(plan.evalset, prompt, case) + case.messages
                except InputError as exc:
                    raise case_error(exc, plan.evalset, prompt, case) from None
                for model in plan.models:
                    for r in range(plan.repeat):
                        key = result_key(prompt.name, case.id, model.name, r)
                        if key in skip:
                            continue
                        ck = (
                            cache_key(model, messages, _loop_params(case, params), r)
                            if use_cache and not model.offline
                            else None
                        )
                        yield Job(prompt, model, case, r, messages, params, key, ck, evaluators, side)

    def compare_fingerprints(self, ev: Evalset, plan: Plan, base_plan: Plan | None, base: Source) -> None:
        """Set `plan.fingerprint` and `plan.reasons` (what changed since the baseline ref)."""
        from llmctl import fingerprint as fpr

        names = fpr.model_names(ev, [m.name for m in plan.models], self.cfg)
        if base_plan is not None:
            names |= {m.name for m in base_plan.models}
        defaults = not self.options.models and not ev.models
        cand = fpr.fingerprint(
            self.cfg, WorktreeSource(self.cfg.root), ev, plan.prompts, names, uses_default_models=defaults
        )
        before = fpr.fingerprint(
            self.cfg, base, ev, base_plan.prompts if base_plan else [], names, uses_default_models=defaults
        )
        plan.fingerprint = fpr.digest(cand)
        plan.reasons = fpr.changes(before, cand)
        if base_plan is not None:
            base_plan.fingerprint = fpr.digest(before)

    def dry_run(self, plans: list[tuple[Evalset, Plan]], base_plans: dict[str, Plan], outcome: EvalOutcome) -> None:
        """Render every case (errors are input errors), count the calls, estimate prompt tokens
        (text by characters, images by litellm's estimate) and their cost."""
        from llmctl.models import estimate_tokens, price_for
        from llmctl.models._cost import estimate_image_tokens

        cost = 0.0
        for ev, plan in plans:
            sides = [plan] + ([base_plans[ev.name]] if ev.name in base_plans else [])
            calls = 0
            for side in sides:
                for job in self.jobs(side, set()):
                    calls += 1
                    images, image_tokens = estimate_image_tokens(job.messages, job.model.litellm_id)
                    tokens = estimate_tokens(job.messages) + image_tokens
                    outcome.dry_run_images += images
                    outcome.dry_run_image_tokens += image_tokens
                    outcome.dry_run_tokens += tokens
                    cost += tokens * price_for(job.model)[0]
            outcome.dry_run_by_evalset[ev.name] = calls
            outcome.dry_run_cases += calls
        outcome.dry_run_cost = cost

    def validate(self, plan: Plan) -> None:
        ev = plan.evalset
        for case in plan.cases:
            for prompt in plan.prompts:
                self.evaluators_for(prompt, [*ev.evaluators, *case.asserts])
                try:
                    render_case(ev, prompt, case)
                except DeadlineExceeded as exc:
                    raise DeadlineExceeded(
                        f"case {case.id!r}: {exc.message}",
                        file=exc.file,
                        line=exc.line,
                        hint="every case is rendered before the first call: nothing was called or stored",
                    ) from None
                except InputError as exc:
                    raise case_error(exc, ev, prompt, case) from None
