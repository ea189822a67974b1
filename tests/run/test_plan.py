"""The Planner: what an eval will call (prompts x cases x models x repeat), built without the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmctl.config import load_config
from llmctl.errors import InputError
from llmctl.evalset import load_evalset
from llmctl.release import worktree_library
from llmctl.run import EvalOptions, EvalOutcome, Planner
from tests.e2e.project import config, prompt, sourced_project, write


def _no_store() -> Any:
    raise AssertionError("planning must not open the store")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(
        tmp_path,
        {
            "llmctl.yaml": config(),
            "prompts/qa.yaml": prompt("Answer."),
            "evalsets/qa.yaml": {
                "prompt": "qa",
                "models": ["echo", "scripted"],
                "repeat": 2,
                "evaluators": [{"type": "icontains", "value": "question"}],
                "cases": [{"id": f"c{i}", "vars": {"question": f"question {i}"}} for i in range(5)],
            },
        },
    )
    return tmp_path


def _planner(root: Path, **options: Any) -> tuple[Planner, Any]:
    cfg = load_config(root)
    ev = load_evalset(root / "evalsets/qa.yaml", cfg.root, cfg.evalsets_dir)
    return Planner(cfg, EvalOptions(**options), _no_store), ev


def test_a_plan_expands_to_one_rendered_job_per_prompt_case_model_and_repeat(project: Path) -> None:
    planner, ev = _planner(project)
    plan = planner.plan(ev, worktree_library(planner.cfg), None)
    assert [p.name for p in plan.prompts] == ["qa"]
    assert [m.name for m in plan.models] == ["echo", "scripted"]
    assert (plan.repeat, [c.id for c in plan.cases]) == (2, ["c0", "c1", "c2", "c3", "c4"])
    jobs = list(planner.jobs(plan, set()))
    assert len(jobs) == 5 * 2 * 2
    assert len({j.key for j in jobs}) == len(jobs)
    assert jobs[0].messages[-1] == {"role": "user", "content": "question 0"}
    assert all(j.cache_key is None for j in jobs)  # offline models are never cached
    done = {j.key for j in jobs[:3]}
    assert [j.key for j in planner.jobs(plan, done)] == [j.key for j in jobs[3:]]


def test_selection_limit_and_case_globs_apply_in_the_plan(project: Path) -> None:
    planner, ev = _planner(project, case_globs=["c[1-3]"], limit=2, models=["echo"], repeat=1)
    plan = planner.plan(ev, worktree_library(planner.cfg), None)
    assert [c.id for c in plan.cases] == ["c1", "c2"]
    assert [m.name for m in plan.models] == ["echo"]
    assert plan.repeat == 1


def test_shards_partition_the_cases(project: Path) -> None:
    seen: list[str] = []
    for index in (1, 2, 3):
        planner, ev = _planner(project, shard=(index, 3))
        seen += [c.id for c in planner.plan(ev, worktree_library(planner.cfg), None).cases]
    assert sorted(seen) == ["c0", "c1", "c2", "c3", "c4"]


def test_a_dry_run_counts_calls_and_validation_renders_every_case(project: Path) -> None:
    planner, ev = _planner(project, dry_run=True)
    plan = planner.plan(ev, worktree_library(planner.cfg), None)
    outcome = EvalOutcome()
    planner.dry_run([(ev, plan)], {}, outcome)
    assert outcome.dry_run_cases == 20 and outcome.dry_run_by_evalset == {"qa": 20}
    planner.validate(plan)
    (project / "prompts/qa.yaml").write_text(
        "inputs: {question: {type: string}}\nmessages:\n  - {role: user, content: '{{ question.nope.deeper }}'}\n"
    )
    broken = planner.plan(ev, worktree_library(planner.cfg), None)
    with pytest.raises(InputError) as info:
        planner.validate(broken)
    assert info.value.file == "evalsets/qa.yaml" and "case 'c0'" in info.value.message


def test_a_plan_streams_its_source_cases_and_never_holds_them_all(tmp_path: Path, monkeypatch: Any) -> None:
    """Issue 27: a 100,000-row source must not live as 100,000 `Case` objects while it runs.
    With chunks of 50 rows, planning, validating and dispatching 1,000 cases keeps at most the
    cases of a few chunks (the one being made, rendered and in flight) alive at any call."""
    import gc

    import llmctl.evalset
    import llmctl.run._pipeline as pipeline
    from llmctl.run import Runner
    from llmctl.types import Case

    monkeypatch.setattr(llmctl.evalset, "CHUNK", 50, raising=False)
    monkeypatch.setattr(pipeline, "CHUNK", 50)
    n = 1000
    sourced_project(tmp_path, [{"id": f"c{i}", "question": f"question {i}"} for i in range(n)])
    live: list[int] = []
    finish = pipeline.Pipeline._finish
    calls = 0

    async def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls % 97 == 0:
            gc.collect()
            live.append(sum(isinstance(o, Case) for o in gc.get_objects()))
        await finish(self, *args, **kwargs)

    monkeypatch.setattr(pipeline.Pipeline, "_finish", counting)
    outcome = Runner(load_config(tmp_path), EvalOptions(evalsets=["qa"], concurrency=4)).run()
    assert outcome.exit_code == 0 and calls == n
    assert len(live) == n // 97
    assert max(live) <= 300, live  # all 1,000 when the plan held a list of cases
