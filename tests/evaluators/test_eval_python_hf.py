"""The `python` (user function) and `evaluate` (Hugging Face metric) evaluators."""

from __future__ import annotations

from pathlib import Path

import pytest
from evalkit import FIXTURES, inp, make, run

from llmctl.errors import InputError
from llmctl.evaluators import build_evaluator
from llmctl.types import EvaluatorSpec

CHECKS = str(FIXTURES / "user_checks.py")


def py(name: str, **config):
    return make("python", function=f"{CHECKS}:{name}", **config)


def test_python_bool_with_input_context():
    ev = py("is_short")
    assert ev.score(inp("tiny")).passed
    assert ev.score(inp("x" * 30, vars={"limit": 40})).passed
    bad = ev.score(inp("x" * 30))
    assert not bad.passed and bad.score == 0.0 and "returned False" in bad.reason


def test_python_float_uses_threshold():
    ev = py("length_score")  # one-argument function: called with the output only
    assert ev.threshold == 0.5
    assert ev.score(inp("x" * 5)).passed
    low = ev.score(inp("xx"))
    assert not low.passed and low.score == pytest.approx(0.2)
    assert py("length_score", threshold=0.9).score(inp("x" * 8)).passed is False


def test_python_dict_result_and_args():
    ev = py("verdict")
    ok = ev.score(inp("yes indeed"))
    assert ok.passed and ok.score == pytest.approx(0.9) and ok.reason == "looked for 'yes'"
    assert not ev.score(inp("no")).passed
    assert py("verdict", args={"word": "no"}).score(inp("no")).passed
    assert py("verdict", not_=True).score(inp("no")).passed


@pytest.mark.parametrize(
    "name,words",
    [
        ("explode", "raised ValueError: boom"),
        ("out_of_range", "outside 0..1"),
        ("wrong_type", "returned str"),
    ],
)
def test_python_errors_are_errors_not_passes(name, words):
    result = py(name).score(inp("x"))
    assert result.error and words in result.error
    assert not result.passed and result.score == 0.0
    negated = py(name, not_=True).score(inp("x"))
    assert negated.error and not negated.passed


def test_python_async_function():
    ev = py("async_check")
    assert ev.is_async
    assert run(ev, inp("ok then")).passed
    assert not run(ev, inp("nope")).passed


def test_python_module_import_from_project_root(tmp_path: Path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "mychecks_llmctl_test.py").write_text("def has_a(output, inp):\n    return 'a' in output\n")
    ev = build_evaluator(
        EvaluatorSpec(type="python", config={"function": "mychecks_llmctl_test:has_a"}),
        prompts_dir=tmp_path / "prompts",
    )
    assert ev.score(inp("cat")).passed and not ev.score(inp("dog")).passed


def test_python_bad_function_name():
    with pytest.raises(InputError, match="has no function 'missing'"):
        py("missing")
    with pytest.raises(InputError, match="has no function 'NOT_A_FUNCTION'"):
        py("NOT_A_FUNCTION")


# -- evaluate ------------------------------------------------------------------------------

METRIC_DIR = str(FIXTURES / "word_overlap")


def test_evaluate_local_metric_script_dir_and_file():
    ev = make("evaluate", path=METRIC_DIR, key="overlap")
    good = ev.score(inp("the cat sat", expected="the cat sat"))
    assert good.passed and good.score == 1.0
    half = ev.score(inp("a b c", expected="a b d"))
    assert half.score == pytest.approx(0.5) and half.passed  # default threshold 0.5
    assert not ev.score(inp("x y z", expected="a b c")).passed
    by_file = make("evaluate", path=f"{METRIC_DIR}/word_overlap.py", key="exact", value="same")
    assert by_file.score(inp("same")).passed
    assert not by_file.score(inp("other")).passed


def test_evaluate_needs_key_when_ambiguous_and_caches_metric():
    from llmctl.evaluators import _hf

    ev = make("evaluate", path=METRIC_DIR)
    result = ev.score(inp("a", expected="a"))
    assert result.error and "choose one with 'key'" in result.error
    missing = make("evaluate", path=METRIC_DIR, key="f1").score(inp("a", expected="a"))
    assert missing.error and "no key 'f1'" in missing.error
    assert (METRIC_DIR, None) in _hf._CACHE
    again = make("evaluate", path=METRIC_DIR, key="overlap")
    assert again._metric is _hf._CACHE[(METRIC_DIR, None)]


def test_evaluate_scale():
    with pytest.raises(InputError, match="'scale' must be > 0"):
        make("evaluate", path=METRIC_DIR, scale=0)
    ev = make("evaluate", path=METRIC_DIR, key="overlap", scale=2)
    assert ev.score(inp("a", expected="a")).score == 0.5
