"""`llmctl eval`: plan every evalset, run each one's sides through the pipeline, finish and gate.

The Runner is the entry point and owns what spans the whole invocation: the
store, the run locks, the disk reserve, the deadline, the invocation id and the
progress listener. Its collaborators: `Planner` (llmctl.run._plan) decides what
will be called, `Pipeline` (llmctl.run._pipeline) calls, scores and stores it,
`finalize` (llmctl.run._finalize) turns a finished run into its verdict and
summary.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from llmctl.config import Config, GateConfig
from llmctl.errors import InputError, Interrupted, StoreIOError
from llmctl.evalset import Evalset, find_evalsets, load_evalset
from llmctl.prompt import PromptLibrary
from llmctl.run._finalize import EvalOutcome, RunInfo, exit_code_for, finalize
from llmctl.run._pipeline import Listener, Pipeline, Progress
from llmctl.run._plan import EvalOptions, Plan, Planner, Side, config_at
from llmctl.run._stop import raise_if_stopped
from llmctl.sources import Source, WorktreeSource

if TYPE_CHECKING:
    from llmctl.batch._engine import BatchPhase
    from llmctl.store import RunRecord, Store
    from llmctl.store._runlock import RunLock
    from llmctl.store._space import SpaceReserve


def git_info(root: Path) -> tuple[str | None, str | None]:
    """(commit, branch) of the project, as git itself resolves them.

    Asked of `git rev-parse`, so a linked worktree records
    its own commit and a submodule its own, not the superproject's; (None, None) outside
    git or without a git executable; a detached HEAD has no branch.
    """
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD", "--symbolic-full-name", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    lines = proc.stdout.split()
    commit = lines[0] if proc.returncode == 0 and lines and len(lines[0]) >= 40 else None
    if commit is None:  # no commit yet: the branch is still known
        try:
            sym = subprocess.run(
                ["git", "symbolic-ref", "-q", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None, None
        ref = sym.stdout.strip() if sym.returncode == 0 else ""
    else:
        ref = lines[1] if len(lines) > 1 else ""
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    return commit, branch


class Runner:
    """Runs evalsets against models and stores the results (one instance per invocation)."""

    def __init__(self, cfg: Config, options: EvalOptions, listener: Listener | None = None) -> None:
        self.cfg = cfg
        self.options = options
        self.listener = listener
        self.progress = Progress()
        self._store: Store | None = None
        self.concurrency = options.concurrency or cfg.concurrency
        self.planner = Planner(cfg, options, lambda: self.store)
        # Groups the runs of one `llmctl eval` (one per evalset and side): `report latest`,
        # `runs show latest` and the PR comment cover all of them.
        from llmctl.store import new_run_id

        self.invocation = "i" + new_run_id()[1:]
        self._deadline: float | None = None
        self._reserve: SpaceReserve | None = None  # llmctl.store._space.SpaceReserve, held while runs write
        self._run_locks: dict[str, RunLock] = {}  # run id -> llmctl.store._runlock.RunLock, held to the verdict
        self._batch: BatchPhase | None = None  # llmctl.batch._engine.BatchPhase of the evalset running now

    @property
    def store(self) -> Store:
        if self._store is None:
            from llmctl.store import Store

            self._store = Store(self.cfg.store_location, on_wait=self._wait_message)
        return self._store

    def _wait_message(self, message: str) -> None:
        import sys

        sys.stderr.write(message.rstrip() + "\n")

    def _emit(self) -> None:
        if self.listener is not None:
            self.listener(self.progress)

    def _open_side(
        self, plan: Plan, *, role: str, baseline_run_id: str | None, ref: str | None, run_id: str | None = None
    ) -> Side:
        """Create (or, with `run_id`, reopen for a resume) the stored run of one side of one evalset."""
        commit, branch = git_info(self.cfg.root)
        skip: set[str] = set()
        if run_id is None:
            run_id = self.store.create_run(
                evalset=plan.evalset.name,
                config={
                    "role": role,
                    "invocation": self.invocation,
                    "ref": ref or "WORKTREE",
                    "models": [m.name for m in plan.models],
                    "repeat": plan.repeat,
                    "prompts": {p.name: p.hash for p in plan.prompts},
                    "evalset_path": plan.evalset.path,
                    "no_cache": self.options.no_cache,
                    "shard": list(self.options.shard) if self.options.shard else None,
                    "limit": self.options.limit,
                    "cases": self.options.case_globs,
                    "rerun_failed": self.options.rerun_failed,
                    "baseline": self.options.baseline,
                    "concurrency": self.concurrency,
                    "batch": self.options.batch,
                    "fingerprint": plan.fingerprint,
                    "changed": plan.reasons,
                },
                git_commit=commit,
                git_branch=branch,
                baseline_run_id=baseline_run_id,
                shard=f"{self.options.shard[0]}/{self.options.shard[1]}" if self.options.shard else None,
            )
            self._lock_run(run_id)
        else:
            self._lock_run(run_id)  # before reading what is finished: one resume at a time
            skip = self.store.finished_keys(run_id)
        self.store.put_prompt_versions(
            [
                {
                    "version_hash": p.hash,
                    "prompt": p.name,
                    "path": p.path,
                    "content": p.to_dict(),
                    "git_commit": commit if ref is None else ref,
                }
                for p in plan.prompts
            ]
        )
        return Side(plan=plan, run_id=run_id, role=role, skip=set(skip), finished=set(skip))

    def _run_sides(self, sides: list[Side]) -> None:
        """Execute the sides of one evalset together (baseline and candidate interleaved in one
        pool); results are written as they finish."""
        if self._reserve is None:
            from llmctl.store._space import SpaceReserve

            self._reserve = SpaceReserve(self.store.path)
            self._reserve.hold()
        # Counters per evalset: one line with its own rate and ETA (both sides when compared).
        total = sum(
            len(s.plan.prompts) * len(s.plan.models) * len(s.plan.cases) * s.plan.repeat - len(s.skip) for s in sides
        )
        roles = " + ".join(s.role for s in sides)
        self.progress = Progress(total=max(total, 0), phase=f"{sides[0].plan.evalset.name} ({roles})")
        head = sides[-1]  # the candidate: resuming it resumes its baseline too
        try:
            raise_if_stopped()  # a SIGTERM whose KeyboardInterrupt was lost while the runs were opened
            asyncio.run(self._execute(sides, self._deadline))
        except KeyboardInterrupt:
            for side in sides:
                self.store.finish_run(side.run_id, "interrupted", {"interrupted": True})
            kept = sum(len(s.finished) for s in sides)
            raise Interrupted(
                "interrupted",
                hint=f"run {head.run_id} keeps its {kept} finished result(s); "
                f"finish it with: llmctl eval --resume {head.run_id}",
            ) from None
        except StoreIOError as exc:
            raise self._stopped_by_disk(exc, head.run_id, [s.run_id for s in sides]) from None
        except Exception as exc:
            # What finished is stored; the runs are marked so `--resume` can complete them.
            for side in sides:
                self.store.finish_run(side.run_id, "failed", {"error": str(exc)})
            raise

    async def _execute(self, sides: list[Side], deadline: float | None) -> None:
        """Run the sides' jobs through one pipeline (one pool of `concurrency` workers, interleaved)."""
        pipeline = Pipeline(
            self.store,
            self.planner,
            concurrency=self.concurrency,
            no_cache=self.options.no_cache,
            progress=self.progress,
            emit=self._emit,
            say=self._wait_message,
            deadline=deadline,
        )
        self._batch = None
        if self._batching(sides):
            from llmctl.batch._engine import BatchPhase

            self._batch = BatchPhase(
                self.store,
                self.planner,
                pipeline,
                flag=self.options.batch,
                no_wait=self.options.no_wait,
                no_cache=self.options.no_cache,
                resume=bool(self.options.resume),
                poll=self.options.batch_poll,
                concurrency=self.concurrency,
                say=self._wait_message,
                deadline=deadline,
            )
            await self._batch.run(sides)
        await pipeline.execute(sides)

    def _batching(self, sides: list[Side]) -> bool:
        """Whether the batch phase runs: something asks to batch, or a resumed run has batches."""
        if self.options.batch or any(s.plan.evalset.batch or any(m.batch for m in s.plan.models) for s in sides):
            return True
        if not self.options.resume:
            return False
        from llmctl.store._batches import batches_of

        return any(batches_of(self.store, s.run_id, uncollected=True) for s in sides)

    def _finish_sides(self, info: RunInfo, plan: Plan, gate_cfg: GateConfig, sides: list[Side]) -> None:
        """The verdict, or, while requests are still in a provider batch, the `submitted` status."""
        phase = self._batch
        info.batch = phase
        if phase is not None and phase.pending:
            info.submitted = sum(phase.pending.values())
            for side in sides:
                self.store.finish_run(
                    side.run_id,
                    "submitted",
                    {"batch": {"in_flight": phase.pending.get(side.run_id, 0), "batches": len(phase.submitted)}},
                )
            return
        self._finalize(info, plan, gate_cfg)

    def _finalize(self, info: RunInfo, plan: Plan, gate_cfg: GateConfig) -> None:
        finalize(self.store, info, gate_cfg, self._stopped_by_disk)

    def _lock_run(self, run_id: str) -> None:
        """Hold `run_id`'s lock until this eval ends; RunBusy when another process holds it."""
        if run_id not in self._run_locks:
            from llmctl.store._runlock import RunLock

            self._run_locks[run_id] = RunLock(self.store.path, run_id).acquire()

    def _stopped_by_disk(self, exc: StoreIOError, run_id: str, also: Iterable[str] = ()) -> StoreIOError:
        """The store's disk failed mid-run: free the reserve, mark the run interrupted, say how to resume."""
        if self._reserve is not None:
            self._reserve.release()
        try:
            for rid in dict.fromkeys([*also, run_id]):
                self.store.finish_run(rid, "interrupted", {"interrupted": True, "error": exc.message})
            state = "is marked interrupted"
        except Exception:
            state = "could not be marked interrupted (the disk is still full)"
        exc.run_id = run_id
        exc.hint = (
            f"run {run_id} keeps every result written before the failure and {state}; "
            f"free some space, then finish it with: llmctl eval --resume {run_id}"
        )
        return exc

    def run(self) -> EvalOutcome:
        from llmctl import sandbox

        opts = self.options
        self._deadline = (time.monotonic() + opts.deadline) if opts.deadline else None
        try:
            # --deadline covers rendering too: a render still going at the deadline stops there.
            with sandbox.deadline(self._deadline):
                return self._run()
        finally:
            if self._reserve is not None:
                self._reserve.release()
            for lock in self._run_locks.values():
                lock.release()
            self._run_locks.clear()

    def _run(self) -> EvalOutcome:
        opts = self.options
        outcome = EvalOutcome()
        library = PromptLibrary(WorktreeSource(self.cfg.root), self.cfg.prompts_dir)
        if opts.resume:
            return self._resume(opts.resume)
        names = opts.evalsets or None
        if names is None and opts.rerun_failed is not None:
            names = [str(self.store.get_run(opts.rerun_failed).evalset)]
        paths = find_evalsets(self.cfg.root, self.cfg.evalsets_dir, names)
        if not paths:
            raise InputError(f"no evalsets found in {self.cfg.evalsets_dir}/", hint="create one, or run llmctl init")
        evalsets = [load_evalset(p, self.cfg.root, self.cfg.evalsets_dir) for p in paths]
        plans = [(ev, self.planner.plan(ev, library, opts.prompt_ref)) for ev in evalsets]
        if opts.case_globs or opts.rerun_failed is not None:
            plans = [(ev, plan) for ev, plan in plans if plan.cases]
            if not plans:
                what = (
                    f"no case failed in run {opts.rerun_failed}"
                    if opts.rerun_failed is not None and not opts.case_globs
                    else "no case matches the selection (--case/--rerun-failed)"
                )
                raise InputError(what, hint="`llmctl runs show RUN` lists a run's cases")
        base_plans: dict[str, Plan] = {}
        if opts.baseline:
            from llmctl.release import resolve_all, source_at

            at_baseline = resolve_all(self.cfg, opts.baseline)  # an unknown ref is an error here
            try:
                base_source: Source | None = source_at(self.cfg, opts.baseline)
            except InputError:
                base_source = None  # a release or label: compare the prompts only
            if base_source is not None:
                self.planner.base_cfg = config_at(self.cfg, base_source)
            kept = []
            for ev, plan in plans:
                base_plan: Plan | None = self.planner.plan(ev, library, None, at_ref=at_baseline)
                if base_source is not None:
                    self.planner.compare_fingerprints(ev, plan, base_plan, base_source)
                if base_plan is not None and not base_plan.prompts:
                    base_plan = None  # the prompts are new in this change: floors only
                if opts.changed_only and plan.reasons == []:
                    outcome.skipped.append(ev.name)
                    continue
                if base_plan is not None:
                    base_plans[ev.name] = base_plan
                kept.append((ev, plan))
            plans = kept
        if opts.dry_run:
            self.planner.dry_run(plans, base_plans, outcome)
            return outcome
        # Evaluators are built and every case rendered (so a template that breaks or trips the
        # sandbox at render time is an input error) before any run is stored or any call is made.
        for ev, plan in plans:
            self.planner.validate(plan)
            if ev.name in base_plans:
                self.planner.validate(base_plans[ev.name])
        for ev, plan in plans:
            sides = []
            base_plan = base_plans.get(ev.name)
            if base_plan is not None:
                sides.append(self._open_side(base_plan, role="baseline", baseline_run_id=None, ref=opts.baseline))
            baseline_run_id = sides[0].run_id if sides else None
            sides.append(self._open_side(plan, role="candidate", baseline_run_id=baseline_run_id, ref=opts.prompt_ref))
            self._run_sides(sides)
            _release(ev, sides)
            run_id = sides[-1].run_id
            info = RunInfo(
                run_id=run_id, evalset=ev.name, baseline_run_id=baseline_run_id, reasons=list(plan.reasons or [])
            )
            self._finish_sides(info, plan, self.cfg.gate.merged(ev.gate), sides)
            outcome.runs.append(info)
        outcome.exit_code = exit_code_for(outcome)
        return outcome

    def _resume(self, run_ref: str) -> EvalOutcome:
        run = self.store.get_run(run_ref)
        config = run.config
        path = config.get("evalset_path")
        if not path:
            raise InputError(f"run {run.id} has no evalset path recorded; cannot resume")
        ev = load_evalset(self.cfg.root / path, self.cfg.root, self.cfg.evalsets_dir)
        self.options.models = config.get("models") or self.options.models
        self.options.repeat = config.get("repeat") or self.options.repeat
        shard = config.get("shard")
        if shard:
            self.options.shard = (int(shard[0]), int(shard[1]))
        self.invocation = str(config.get("invocation") or self.invocation)
        self.options.limit = config.get("limit")
        self.options.case_globs = config.get("cases")
        self.options.rerun_failed = config.get("rerun_failed")
        self.options.batch = self.options.batch or bool(config.get("batch"))
        ref = config.get("ref")
        ref = None if ref in (None, "WORKTREE") else ref
        library = PromptLibrary(WorktreeSource(self.cfg.root), self.cfg.prompts_dir)
        plan = self.planner.plan(ev, library, ref)
        recorded = config.get("prompts") or {}
        changed = [p.name for p in plan.prompts if recorded.get(p.name) not in (None, p.hash)]
        if changed:
            raise InputError(
                f"cannot resume run {run.id}: prompt(s) {', '.join(changed)} changed since it started",
                hint="start a new run instead",
            )
        sides = []
        base_id = run.baseline_run_id
        base_run = self.store.get_run(base_id) if base_id else None
        if base_run is not None and base_run.status != "completed":
            # Interrupted while both sides ran interleaved: finish the baseline with it.
            sides.append(self._resumed_baseline(ev, library, base_run))
        self._lock_run(run.id)
        for side_run in [*([base_run] if sides and base_run is not None else []), run]:
            self.store.resume_run(side_run.id)
        sides.append(
            self._open_side(
                plan,
                role=config.get("role", "candidate"),
                baseline_run_id=base_id,
                ref=ref,
                run_id=run.id,
            )
        )
        self._run_sides(sides)
        _release(ev, sides)
        info = RunInfo(run_id=run.id, evalset=ev.name, baseline_run_id=run.baseline_run_id)
        self._finish_sides(info, plan, self.cfg.gate.merged(ev.gate), sides)
        outcome = EvalOutcome(runs=[info])
        outcome.exit_code = exit_code_for(outcome)
        return outcome

    def _resumed_baseline(self, ev: Evalset, library: PromptLibrary, base_run: RunRecord) -> Side:
        """The unfinished baseline run of a candidate being resumed, planned as it was started."""
        from llmctl.release import resolve_all, source_at

        config = base_run.config
        ref = str(config.get("ref") or "")
        try:
            self.planner.base_cfg = config_at(self.cfg, source_at(self.cfg, ref))
        except InputError:
            self.planner.base_cfg = None
        plan = self.planner.plan(ev, library, None, at_ref=resolve_all(self.cfg, ref))
        recorded = config.get("prompts") or {}
        if {p.name: p.hash for p in plan.prompts} != recorded:
            raise InputError(
                f"cannot resume baseline run {base_run.id}: the prompts at {ref} are not the ones it started with",
                hint="start a new run instead",
            )
        return self._open_side(plan, role="baseline", baseline_run_id=None, ref=ref, run_id=str(base_run.id))


def _release(ev: Evalset, sides: list[Side]) -> None:
    """After an evalset's calls: finalizing reads its outcomes back from the store, so its cases
    and finished keys are not kept beside them (memory holds one or the other, never both)."""
    for side in sides:
        side.plan.cases, side.finished, side.skip = [], set(), set()
    ev.forget_cases()


def run_eval(cfg: Config, options: EvalOptions, listener: Listener | None = None) -> EvalOutcome:
    """Run `llmctl eval` as a library call."""
    return Runner(cfg, options, listener).run()
