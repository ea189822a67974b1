"""Each sync built-in passes and fails, with a reason explaining the failure."""

from __future__ import annotations

import pytest
from evalkit import inp, make


def test_equals_value_and_expected():
    ev = make("equals", value="billing")
    assert ev.score(inp("billing\n")).passed  # strip by default
    bad = ev.score(inp("shipping"))
    assert not bad.passed and bad.score == 0.0 and "expected 'billing'" in bad.reason
    from_case = make("equals")
    assert from_case.score(inp("Billing", expected="Billing")).passed
    assert not from_case.score(inp("Billing", expected="billing")).passed
    assert make("equals", ignore_case=True).score(inp("BILLING", expected="billing")).passed
    assert not make("equals", value="a", strip=False).score(inp(" a")).passed


def test_equals_non_string_values():
    assert make("equals", value=42).score(inp("42")).passed
    assert make("equals", value=True).score(inp("true")).passed
    ev = make("equals", value={"a": 1, "b": [1, 2]})
    assert ev.score(inp('```json\n{"b": [1, 2], "a": 1}\n```')).passed
    assert not ev.score(inp('{"a": 2}')).passed
    assert "not JSON" in ev.score(inp("nope")).reason


def test_missing_reference_is_an_error():
    result = make("equals").score(inp("x"))
    assert result.error and "no 'value'" in result.error and not result.passed


def test_contains_and_icontains():
    ev = make("contains", value="refund")
    assert ev.score(inp("a refund please")).passed
    bad = ev.score(inp("a Refund please"))
    assert not bad.passed and bad.reason == "expected to contain 'refund'"
    assert make("icontains", value="REFUND").score(inp("a Refund please")).passed
    assert make("contains", value="x", ignore_case=True).score(inp("X")).passed
    assert make("contains").score(inp("abc", expected="b")).passed
    assert make("icontains").score(inp("ABC", expected="b")).passed


def test_contains_any_and_all():
    any_ = make("contains_any", value=["refund", "return"])
    assert any_.score(inp("I want to return it")).passed
    bad = any_.score(inp("hello"))
    assert not bad.passed and "any of" in bad.reason
    all_ = make("contains_all", value=["refund", "blender", "cracked"])
    assert all_.score(inp("refund for the cracked blender")).passed
    partial = all_.score(inp("refund for the blender"))
    assert not partial.passed
    assert partial.score == pytest.approx(2 / 3)
    assert "cracked" in partial.reason
    assert make("contains_all", value=["a", "b", "c"], threshold=0.6).score(inp("a b")).passed
    assert make("contains_any", ignore_case=True).score(inp("HELLO", expected=["hello"])).passed
    # not contains_all: passes when something is missing
    assert make("contains_all", value=["a", "z"], not_=True).score(inp("a")).passed
    assert not make("contains_all", value=["a", "b"], not_=True).score(inp("a b")).passed


def test_regex():
    ev = make("regex", value=r"ORD-\d{4}")
    assert ev.score(inp("your order ORD-1001 shipped")).passed
    bad = ev.score(inp("no order"))
    assert not bad.passed and "expected to match" in bad.reason
    assert make("regex", value="track", flags="i").score(inp("TRACKING")).passed
    assert make("regex", value="^b", flags=["MULTILINE"]).score(inp("a\nb")).passed
    assert make("regex", value="(?i)track").score(inp("Tracking")).passed
    assert make("regex").score(inp("abc", expected="b+")).passed
    assert make("regex").score(inp("abc", expected="(")).error


def test_catastrophic_regex_times_out_as_a_failed_case():
    """`^(a|aa)+$` backtracks exponentially; the match stops at `timeout` with a reason (issue 10 item 4)."""
    import time

    ev = make("regex", value=r"^(a|aa)+$", timeout=0.2)
    started = time.monotonic()
    result = ev.score(inp("a" * 40 + "!"))
    assert time.monotonic() - started < 5
    assert not result.passed and result.score == 0.0
    assert result.error and "took more than 0.2 s" in result.error and "41-character output" in result.error
    assert make("regex", value=r"^(a|aa)+$").score(inp("aaaa")).passed  # the pattern itself is fine


def test_regex_timeout_option_is_checked():
    from llmctl.errors import InputError

    with pytest.raises(InputError, match="'timeout' must be more than 0"):
        make("regex", value="a", timeout=0)


def test_starts_with():
    ev = make("starts_with", value="Dear")
    assert ev.score(inp("  Dear Ana,")).passed
    bad = ev.score(inp("Hi Ana"))
    assert not bad.passed and "expected to start with 'Dear'" in bad.reason
    assert make("starts_with", value="dear", ignore_case=True).score(inp("DEAR x")).passed
    assert not make("starts_with", value="Dear", strip=False).score(inp(" Dear")).passed


def test_json_valid():
    ev = make("json_valid")
    assert ev.score(inp('{"a": 1}')).passed
    assert ev.score(inp('```json\n{"a": 1}\n```')).passed
    assert ev.score(inp("```\n[1, 2]\n```")).passed
    bad = ev.score(inp('Sure! {"a": 1}'))
    assert not bad.passed and "not valid JSON" in bad.reason


def test_json_schema():
    schema = {"type": "object", "required": ["summary"], "properties": {"summary": {"type": "string"}}}
    ev = make("json_schema", schema=schema)
    assert ev.score(inp('{"summary": "ok"}')).passed
    assert ev.score(inp('```json\n{"summary": "ok"}\n```')).passed
    missing = ev.score(inp('{"other": 1}'))
    assert not missing.passed and "'summary' is a required property" in missing.reason
    wrong = ev.score(inp('{"summary": 3}'))
    assert not wrong.passed and "at summary" in wrong.reason
    assert "not valid JSON" in ev.score(inp("nope")).reason


def test_levenshtein_similarity():
    ev = make("levenshtein", value="the customer wants a refund")
    same = ev.score(inp("the customer wants a refund"))
    assert same.passed and same.score == 1.0
    far = ev.score(inp("completely unrelated text here"))
    assert not far.passed and 0 <= far.score < 0.5
    sim = make("similarity", method="token_sort_ratio")
    assert sim.score(inp("refund wants customer the", expected="the customer wants refund")).score == 1.0
    assert make("similarity", ignore_case=True, value="ABC").score(inp("abc")).score == 1.0
    best_of = make("similarity", value=["zzz", "abc"])
    assert best_of.score(inp("abc")).score == 1.0


def test_rouge():
    ref = "the customer received a damaged blender and asks for a refund"
    ev = make("rouge", value=ref)
    good = ev.score(inp("the customer received a broken blender and wants a refund"))
    assert good.passed and 0.5 < good.score < 1.0
    bad = ev.score(inp("shipping delayed"))
    assert not bad.passed and bad.score == 0.0 and "rougeL" in bad.reason
    r1 = make("rouge", variant="rouge1", measure="recall", value="a b c d")
    assert r1.score(inp("a b")).score == pytest.approx(0.5)
    assert make("rouge").score(inp("a b", expected=["x y", "a b"])).score == 1.0


def test_bleu():
    ev = make("bleu", value="the cat sat on the mat")
    same = ev.score(inp("the cat sat on the mat"))
    assert same.passed and same.score == 1.0  # clamped from 100.00000000000004 / 100
    bad = ev.score(inp("dogs run fast"))
    assert not bad.passed and 0.0 <= bad.score < 0.3
    assert make("bleu", tokenize="char").score(inp("猫が座った", expected="猫が座った")).score == 1.0


def test_cost_and_latency():
    cost = make("cost", max_usd=0.01)
    assert cost.score(inp("x", cost_usd=0.002)).passed
    over = cost.score(inp("x", cost_usd=0.02))
    assert not over.passed and "exceeds max $0.01" in over.reason
    lat = make("latency", max_ms=500)
    assert lat.score(inp("x", latency_ms=499)).passed
    slow = lat.score(inp("x", latency_ms=1200))
    assert not slow.passed and "1,200 ms exceeds max 500 ms" in slow.reason
    # promptfoo style: threshold is the budget
    assert make("cost", threshold=0.5).score(inp("x", cost_usd=0.4)).passed
    assert not make("latency", threshold=100).score(inp("x", latency_ms=150)).passed
