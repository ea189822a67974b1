"""What the gate says it can see (the detectable-drop note and its warning), `gate.quality.flaky`
modes, and lint's power warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.config import GateConfig, load_config
from llmctl.gate import compare
from llmctl.lint import lint_project
from tests.test_gate import NO_COST_LATENCY, metric, run


def _notes(v) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(v.notes)


def test_every_comparison_states_the_drop_it_can_detect() -> None:
    # 200 cases, the runs disagree on 20 of them (10 each way): no real change
    base = run([1] * 150 + [1] * 10 + [0] * 10 + [0] * 30)
    cand = run([1] * 150 + [0] * 10 + [1] * 10 + [0] * 30)
    v = compare(base, cand, GateConfig(max_drop=0.10, **NO_COST_LATENCY))
    assert v.passed
    m = metric(v, "pass_rate")
    assert m.mde is not None and 0.0 < m.mde < 0.10
    text = _notes(v)
    assert "with 200 paired case(s) this gate detects a pass-rate drop of" in text
    assert "disagreed on 20 case(s)" in text
    assert "warning" not in text


def test_max_drop_below_the_detectable_drop_warns_with_advice() -> None:
    base = run([1] * 14 + [0] * 6)
    cand = run([1] * 12 + [0] * 2 + [1] * 2 + [0] * 4)
    v = compare(base, cand, GateConfig(max_drop=0.05, **NO_COST_LATENCY))
    m = metric(v, "pass_rate")
    assert m.mde is not None and m.mde > 0.05
    text = _notes(v)
    assert "with 20 paired case(s)" in text
    assert "warning: gate.quality.max_drop (5" in text and "smaller regressions mostly pass unseen" in text
    assert "paired cases would see" in text  # how many cases it would take


def _repeats(per_case: list[list[int]]) -> list:  # type: ignore[type-arg]
    """Outcomes of len(per_case) cases x len(samples) repeats."""
    samples = len(per_case[0])
    return [o for r in range(samples) for o in run([c[r] for c in per_case], repeat=r)]


STABLE = [[1, 1, 1]] * 40
FLAKY = [[1, 0, 1]] * 10


@pytest.mark.parametrize("mode", ["ignore", "report", "fail"])
def test_flaky_modes(mode: str) -> None:
    base = _repeats(STABLE + [[1, 1, 1]] * 10)
    cand = _repeats(STABLE + FLAKY)
    v = compare(base, cand, GateConfig(max_drop=0.05, flaky=mode, **NO_COST_LATENCY))
    flaky = [f for f in v.flaky if f.run == "candidate"]
    assert len(flaky) == 10 and all(f.passes == 2 and f.samples == 3 for f in flaky)
    lo, hi = flaky[0].interval
    assert lo < 2 / 3 < hi  # Wilson interval of 2 passes in 3
    names = [m.metric for m in v.metrics]
    if mode == "ignore":
        # the flaky cases are left out of the quality comparison: 40 stable cases, no change
        assert v.passed and "flaky_cases" not in names
        assert "10 flaky case(s) left out of the quality comparison" in _notes(v)
    elif mode == "report":
        # listed, and the quality test sees them: 10 of 50 per-case means lower
        assert "flaky_cases" not in names and metric(v, "pass_rate").delta < 0
    else:
        row = metric(v, "flaky_cases")
        assert not row.passed and not v.passed and len(row.cases) == 10


def test_flaky_fail_with_one_sample_says_it_cannot_see() -> None:
    v = compare(run([1] * 30), run([1] * 30), GateConfig(flaky="fail", **NO_COST_LATENCY))
    assert v.passed and "with one sample per case no case can be seen to be flaky" in _notes(v)


def _project(root: Path, cases: int, max_drop: float) -> None:
    (root / "prompts").mkdir(parents=True)
    (root / "evalsets").mkdir()
    (root / "llmctl.yaml").write_text(f"default_models: [echo]\ngate: {{quality: {{max_drop: {max_drop}}}}}\n")
    (root / "prompts" / "p.yaml").write_text("inputs: {x: {type: string}}\ntemplate: 'hi {{ x }}'\n")
    rows = "".join(f"  - {{id: c{i}, vars: {{x: '{i}'}}}}\n" for i in range(cases))
    (root / "evalsets" / "e.yaml").write_text(f"prompt: p\nevaluators: [{{type: contains, value: hi}}]\ncases:\n{rows}")


def test_lint_warns_when_the_suite_cannot_see_max_drop(tmp_path: Path) -> None:
    _project(tmp_path, 20, 0.02)
    report = lint_project(load_config(tmp_path))
    assert report.ok  # a warning, not an error
    warnings = [w.located() for w in report.warnings]
    assert any("evalsets/e.yaml:1" in w and "gate.quality.max_drop is 2 pts" in w for w in warnings), warnings


@pytest.mark.parametrize(("cases", "max_drop"), [(5, 0.02), (400, 0.10)])
def test_lint_is_quiet_for_smoke_suites_and_suites_that_can_see(tmp_path: Path, cases: int, max_drop: float) -> None:
    _project(tmp_path, cases, max_drop)
    report = lint_project(load_config(tmp_path))
    assert not [w for w in report.warnings if "max_drop" in w.message]
