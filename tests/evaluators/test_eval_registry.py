"""The registry, the common options (not, weight, threshold, metric) and case_passed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from evalkit import inp, make

from llmctl.errors import InputError
from llmctl.evaluators import (
    Evaluator,
    build_evaluator,
    case_passed,
    evaluator,
    opt,
    registered_evaluators,
)
from llmctl.types import EvalInput, EvaluatorSpec, ScoreResult
from llmctl.yamlio import load_yaml_text

BUILTINS = {
    "equals",
    "contains",
    "icontains",
    "contains_any",
    "contains_all",
    "regex",
    "starts_with",
    "json_valid",
    "json_schema",
    "levenshtein",
    "rouge",
    "bleu",
    "cost",
    "latency",
    "python",
    "evaluate",
    "judge",
    "pairwise",
}


def spec_from_yaml(text: str) -> EvaluatorSpec:
    """An EvaluatorSpec as the evalset loader would make it: a LineDict config with lines."""
    data = load_yaml_text(text, "evalsets/x.yaml")
    item = data["evaluators"][0]
    line = data["evaluators"].line_of(0)
    return EvaluatorSpec(type=item["type"], config=item, file="evalsets/x.yaml", line=line)


def test_every_builtin_is_registered_with_summary():
    registry = registered_evaluators()
    assert BUILTINS <= set(registry)
    assert "similarity" in registry["levenshtein"].aliases
    for info in registry.values():
        assert info.summary, info.name
    assert registry["judge"].is_async and not registry["contains"].is_async
    assert registry["levenshtein"].default_threshold == 0.8


@pytest.mark.parametrize(
    "alias,canonical,config",
    [
        ("similarity", "levenshtein", {"value": "x"}),
        ("contains-any", "contains_any", {"value": ["x"]}),
        ("is-json", "json_valid", {}),
        ("llm-rubric", "judge", {"rubric": "r", "model": "m"}),
        ("Starts-With", "starts_with", {"value": "x"}),
    ],
)
def test_aliases_and_spelling(alias, canonical, config):
    ev = make(alias, **config)
    assert ev.type == canonical
    assert ev.config["type"] == canonical


def test_unknown_type_names_file_line_and_known():
    with pytest.raises(InputError) as err:
        build_evaluator(EvaluatorSpec(type="containz", config={}, file="evalsets/a.yaml", line=12))
    assert err.value.file == "evalsets/a.yaml" and err.value.line == 12
    assert "unknown evaluator 'containz'" in err.value.message
    assert "contains" in err.value.message and "judge" in err.value.message


def test_unknown_option_points_at_its_line():
    spec = spec_from_yaml("evaluators:\n  - type: contains\n    value: a\n    valeu: b\n")
    with pytest.raises(InputError) as err:
        build_evaluator(spec)
    assert err.value.file == "evalsets/x.yaml"
    assert err.value.line == 4
    assert "unknown option 'valeu'" in err.value.message
    assert "value" in err.value.message


@pytest.mark.parametrize(
    "type_,config,words",
    [
        ("regex", {"value": "(unclosed"}, "invalid regex"),
        ("regex", {"value": "a", "flags": "q"}, "unknown regex flag"),
        ("json_schema", {"schema": {"type": "objekt"}}, "invalid JSON schema"),
        ("json_schema", {}, "missing required option 'schema'"),
        ("judge", {"model": "m"}, "missing required option 'rubric'"),
        ("judge", {"rubric": "r"}, "judge.model"),
        ("judge", {"rubric": "r", "model": "m", "aggregate": "median"}, "unknown aggregate"),
        ("judge", {"rubric": "r", "model": "m", "samples": 0}, "'samples'"),
        ("judge", {"rubric": "r", "model": "m", "prompt": "judges/nope"}, "not found"),
        ("pairwise", {}, "judge.model"),
        ("python", {}, "missing required option 'function'"),
        ("python", {"function": "no_colon"}, "module:function"),
        ("python", {"function": "llmctl_no_such_module_x:f"}, "cannot import"),
        ("evaluate", {}, "missing required option 'path'"),
        ("evaluate", {"path": "/nonexistent/metric_dir/metric_dir.py"}, "cannot load metric"),
        ("contains", {"value": "a", "weight": -1}, "'weight'"),
        ("contains", {"value": "a", "weight": "heavy"}, "must be a number"),
        ("contains", {"value": "a", "not": "yes"}, "must be true/false"),
        ("levenshtein", {"threshold": 1.5}, "between 0 and 1"),
        ("levenshtein", {"method": "soundex"}, "unknown method"),
        ("rouge", {"variant": "rouge9"}, "unknown rouge variant"),
        ("bleu", {"tokenize": "klingon"}, "unknown tokenize"),
        ("contains_any", {"value": []}, "non-empty list"),
        ("contains_any", {"value": "one"}, "must be a list"),
        ("cost", {}, "missing required option 'max_usd'"),
        ("latency", {"max_ms": -5}, ">= 0"),
    ],
)
def test_bad_configs_raise_input_error_with_location(type_, config, words):
    with pytest.raises(InputError) as err:
        build_evaluator(EvaluatorSpec(type=type_, config=config, file="evalsets/b.yaml", line=3))
    assert words in err.value.message
    assert err.value.file == "evalsets/b.yaml"
    assert err.value.line == 3
    assert str(err.value).startswith("evalsets/b.yaml:3: ")


def test_name_config_and_weight_recorded():
    ev = make("contains", value="refund", metric="mentions_refund", weight=2)
    assert ev.name == "mentions_refund"
    assert ev.config == {"type": "contains", "value": "refund", "metric": "mentions_refund", "weight": 2}
    assert ev.weight == 2.0
    assert make("contains", value="x").weight == 1.0
    assert make("contains", value="x").name == "contains"


def test_not_negates_pass_and_score():
    ev = make("contains", value="refund", not_=True)
    ok = ev.score(inp("no mention here"))
    assert ok.passed and ok.score == 1.0
    bad = ev.score(inp("a refund please"))
    assert not bad.passed and bad.score == 0.0
    assert "expected not" in bad.reason and "refund" in bad.reason


def test_not_on_scored_evaluator_uses_one_minus_score():
    plain = make("levenshtein", value="hello world")
    negated = make("levenshtein", value="hello world", not_=True, threshold=0.5)
    a = plain.score(inp("hello wordl"))
    b = negated.score(inp("hello wordl"))
    assert b.score == pytest.approx(1 - a.score)
    assert a.passed and not b.passed
    assert negated.score(inp("zzzzzzzzzzzzzzzzz")).passed


def test_not_never_turns_an_error_into_a_pass():
    ev = make("contains", not_=True)  # no value, and the case has no expected
    result = ev.score(inp("anything"))
    assert result.error and not result.passed and result.score == 0.0


def test_threshold_defaults_and_override():
    ev = make("levenshtein", value="abcdefghij")
    assert ev.threshold == 0.8
    assert make("contains", value="x").threshold == 1.0
    assert make("judge", rubric="r", model="m").threshold == 0.5
    result = ev.score(inp("abcdefgxyz"))  # similarity 0.7
    assert result.score == pytest.approx(0.7)
    assert not result.passed and "threshold 0.8" in result.reason
    assert make("levenshtein", value="abcdefghij", threshold=0.6).score(inp("abcdefgxyz")).passed


def test_case_passed_weighted_mean():
    good = ScoreResult(1.0, True)
    half = ScoreResult(0.5, True)
    fail = ScoreResult(0.0, False, "nope")
    err = ScoreResult(0.0, False, "x", error="judge down")
    assert case_passed([(1.0, good), (3.0, half)]) == (True, pytest.approx(0.625))
    assert case_passed([(1.0, good), (1.0, fail)]) == (False, 0.5)
    assert case_passed([(1.0, good), (1.0, err)])[0] is False
    assert case_passed([(1.0, good)], error="timeout") == (False, 0.0)
    assert case_passed([]) == (True, 1.0)
    assert case_passed([(0.0, good), (0.0, half)]) == (True, 0.75)


def test_case_passed_is_unscored_when_no_evaluator_gave_a_verdict():
    """Issue 22 item 13: an unlabelled `human` is no verdict; a case with only such results is
    neither passed nor failed (None, None), not a pass with score 1.0."""
    none = ScoreResult(0.0, False, "unscored: no human label for this output", unscored=True)
    good = ScoreResult(1.0, True)
    fail = ScoreResult(0.0, False, "nope")
    assert case_passed([(1.0, none)]) == (None, None)
    assert case_passed([(1.0, none), (2.0, none)]) == (None, None)
    assert case_passed([(1.0, none), (1.0, good)]) == (True, 1.0)  # the other evaluator decides
    assert case_passed([(1.0, none), (1.0, fail)]) == (False, 0.0)
    assert case_passed([(1.0, none)], error="timeout") == (False, 0.0)  # a call error stays an error
    assert case_passed([]) == (True, 1.0)  # no evaluators at all: a pass, as before


def test_weight_via_evaluators_in_case_passed():
    a = make("contains", value="a", weight=3)
    b = make("contains", value="zzz", weight=1)
    i = inp("abc")
    passed, score = case_passed([(a.weight, a.score(i)), (b.weight, b.score(i))])
    assert not passed and score == pytest.approx(0.75)


def test_custom_evaluator_registration_and_duplicates():
    @evaluator("test_word_count_max", aliases=["test_wc_max"])
    class WordCountMax(Evaluator):
        """At most `max` words."""

        options = {"max": opt(int, required=True, help="the most words allowed")}

        def check(self, inp: EvalInput):
            n = len(inp.output.split())
            return (1.0, None, f"{n} words") if n <= self.config["max"] else (0.0, None, f"{n} words > max")

    ev = build_evaluator(EvaluatorSpec(type="test-wc-max", config={"max": 2}))
    assert ev.name == "test_word_count_max"
    assert ev.score(inp("one two")).passed and not ev.score(inp("one two three")).passed
    with pytest.raises(InputError, match="missing required option 'max'"):
        build_evaluator(EvaluatorSpec(type="test_word_count_max", config={}))
    with pytest.raises(ValueError, match="already registered"):
        evaluator("contains")(WordCountMax)
    assert "test_word_count_max" in registered_evaluators()


def test_async_evaluator_refuses_sync_score():
    ev = make("judge", rubric="r", model="m")
    with pytest.raises(TypeError, match="async"):
        ev.score(inp("x"))


def test_sync_evaluator_works_through_ascore():
    import asyncio

    ev = make("contains", value="a")
    assert asyncio.run(ev.ascore(inp("abc"), None)).passed


def test_build_fills_judge_model_and_schema():
    judge = build_evaluator(EvaluatorSpec(type="judge", config={"rubric": "r"}), judge_model="demo-judge")
    assert judge.config["model"] == "demo-judge"
    own = build_evaluator(EvaluatorSpec(type="judge", config={"rubric": "r", "model": "x"}), judge_model="y")
    assert own.config["model"] == "x"
    schema = {"type": "object"}
    js = build_evaluator(EvaluatorSpec(type="json_schema", config={}), schema=schema)
    assert js.config["schema"] == schema
    assert build_evaluator(EvaluatorSpec(type="contains", config={"value": "a"}), schema=schema).config == {
        "type": "contains",
        "value": "a",
    }


def test_resolve_false_skips_loading():
    ev = build_evaluator(EvaluatorSpec(type="python", config={"function": "not_here_mod:f"}), resolve=False)
    assert ev.score(inp("x")).error
    build_evaluator(EvaluatorSpec(type="evaluate", config={"path": "no/such"}), resolve=False)


def test_package_import_is_cheap():
    code = (
        "import sys, llmctl.evaluators; "
        "heavy = [m for m in ('rapidfuzz','rouge_score','sacrebleu','jsonschema','evaluate','datasets',"
        "'jinja2','litellm','nltk') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
    )
    assert out.stdout.strip() == "[]"


def test_hot_path_is_cheap():
    import time

    ev = make("contains", value="refund")
    i = inp("I would like a refund for the cracked blender, please.")
    start = time.perf_counter()
    for _ in range(20000):
        ev.score(i)
    per_call = (time.perf_counter() - start) / 20000
    assert per_call < 50e-6
