"""Every token and dollar: judge calls stored with the result they graded, counted in the run's
spend and in every report; cached results reported as saved (at today's prices), not spent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmctl.fmt import usd
from llmctl.safetext import html_text, md_inline
from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, evalset, llmctl, prompt, write

VERDICT = '{"score": 0.9, "pass": true, "reason": "fine"}'
PRICE = {"input_per_1k": 0.01, "output_per_1k": 0.02}


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


def _project(root: Path, base_url: str, price: dict[str, float] = PRICE) -> None:
    cfg = config(base_url, judge={"model": "fake"})
    cfg["models"]["fake"]["price"] = price
    ev = evalset("qa", 4)
    ev["evaluators"].append({"type": "judge", "rubric": "Is it polite?"})
    write(root, {"llmctl.yaml": cfg, "prompts/qa.yaml": prompt("Answer."), "evalsets/qa.yaml": ev})


def _judge_calls(store: Store, run_id: str) -> list[dict[str, object]]:
    names = ["result_key", "evaluator", "idx", "call_index", "model", "prompt_tokens", "completion_tokens", "cost_usd"]
    rows = store.query(
        f"SELECT {', '.join(names)}, cached FROM judge_calls WHERE run_id = ? ORDER BY result_key",
        [run_id],
    )
    return [dict(zip([*names, "cached"], r, strict=True)) for r in rows]


def test_judge_tokens_and_cost_are_stored_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responses={"<rubric>": VERDICT, "question": "yes"}) as srv:
        _project(tmp_path, srv.base_url)
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        run = store.list_runs()[0]
        run_id = str(run.id)
        calls = _judge_calls(store, run_id)
        keys = set(store.finished_keys(run_id))
        assert len(calls) == 4 and {c["result_key"] for c in calls} == keys  # one per graded result
        for c in calls:
            assert (c["evaluator"], c["idx"], c["call_index"], c["model"], c["cached"]) == (
                "judge",
                1,
                0,
                "fake",
                False,
            )
            p, n = int(c["prompt_tokens"]), int(c["completion_tokens"])  # type: ignore[call-overload]
            assert p > 20 and n > 0  # the judge prompt holds the rubric and the graded output
            assert c["cost_usd"] == pytest.approx((p * 0.01 + n * 0.02) / 1000)
        judge_usd = sum(float(c["cost_usd"]) for c in calls)  # type: ignore[arg-type]
        outcomes = store.outcomes(run_id)
        model_usd = sum(o.cost_usd for o in outcomes)
        assert sum(o.judge_cost_usd for o in outcomes) == pytest.approx(judge_usd)
        assert all(o.judge_calls == 1 and o.judge_saved_usd == 0 for o in outcomes)
        spend = store.get_run(run_id).summary_json["spend"]
        assert spend["model_usd"] == pytest.approx(model_usd) and spend["judge_usd"] == pytest.approx(judge_usd)
        assert spend["saved_usd"] == 0 and spend["judge_calls"] == 4
        assert spend["judge_prompt_tokens"] == sum(int(c["prompt_tokens"]) for c in calls)  # type: ignore[call-overload]
        line = f"spent: model {usd(model_usd)} + judge {usd(judge_usd)} = {usd(model_usd + judge_usd)}"
        assert line in out, out
        assert "judge: 4 call(s)" in out

        code, out = llmctl(tmp_path, "runs", "show", run_id, capsys=capsys)
        assert code == 0 and line in out, out
        reports = [tmp_path / f"r.{ext}" for ext in ("md", "json", "html")]
        code, out = llmctl(tmp_path, "report", run_id, *(a for r in reports for a in ("-o", str(r))), capsys=capsys)
        assert code == 0, out
        md, doc, html = (r.read_text(encoding="utf-8") for r in reports)
        assert md_inline(line) in md and html_text(line) in html  # as each format escapes text
        data = json.loads(doc)
        assert data["spend"]["judge_usd"] == pytest.approx(judge_usd)
        assert sum(r["judge_cost_usd"] for r in data["results"]) == pytest.approx(judge_usd)
        assert all(r["judge_prompt_tokens"] > 0 for r in data["results"])


def test_a_cached_run_reports_saved_at_todays_prices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responses={"<rubric>": VERDICT, "question": "yes"}) as srv:
        _project(tmp_path, srv.base_url)
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        first = store.get_run(str(store.list_runs()[0].id)).summary_json["spend"]
        # The price doubles; the re-run is fully cached: nothing is spent, and what it saved is
        # priced at today's (doubled) prices.
        _project(tmp_path, srv.base_url, {"input_per_1k": 0.02, "output_per_1k": 0.04})
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 8  # 4 answers + 4 judge calls, all in the first run
        run_id = str(store.list_runs()[0].id)
        spend = store.get_run(run_id).summary_json["spend"]
        assert spend["model_usd"] == 0 and spend["judge_usd"] == 0 and spend["cached"] == 4
        assert spend["model_saved_usd"] == pytest.approx(2 * first["model_usd"])
        assert spend["judge_saved_usd"] == pytest.approx(2 * first["judge_usd"])
        assert spend["prompt_tokens"] == 0 and spend["judge_calls"] == 0  # no call was made
        assert "spent: model $0 + judge $0 = $0 · saved $" in out, out
        assert "4 cached result(s), at today's prices; not spent" in out
        calls = _judge_calls(store, run_id)
        assert len(calls) == 4 and all(c["cached"] for c in calls)
        outcomes = store.outcomes(run_id)
        assert all(o.cached and o.judge_cost_usd == 0 and o.judge_saved_usd > 0 for o in outcomes)
        assert sum(o.cost_usd for o in outcomes) == pytest.approx(2 * first["model_usd"])  # what the gate compares


def test_cached_and_reasoning_tokens_reach_the_store_and_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAIServer(
        responses={"<rubric>": VERDICT, "question": "yes"}, cached_tokens=2, reasoning_tokens=3
    ) as srv:
        _project(tmp_path, srv.base_url)
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        run_id = str(store.list_runs()[0].id)
        rows = store.query("SELECT cached_tokens, reasoning_tokens FROM results WHERE run_id = ?", [run_id])
        assert rows and all(tuple(r) == (2, 3) for r in rows)
        assert all(tuple(r) == (2, 3) for r in store.query("SELECT cached_tokens, reasoning_tokens FROM cache"))
        spend = store.get_run(run_id).summary_json["spend"]
        assert (spend["cached_tokens"], spend["reasoning_tokens"]) == (8, 12)
        assert "(8 cached)" in out and "(12 reasoning)" in out, out
