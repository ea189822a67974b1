"""`llmctl eval` end to end: offline models, a local OpenAI-compatible server, the cache, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, evalset, llmctl, prompt, write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


def test_example_suite_runs_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("prompts", "evalsets"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "llmctl.yaml", tmp_path / "llmctl.yaml")
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    assert "gate PASSED" in out
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    runs = store.list_runs()
    assert {r.evalset for r in runs} == {"classify", "extract", "safety", "summarize", "support_agent"}
    assert all(r.status == "completed" for r in runs)
    safety = next(r for r in runs if r.evalset == "safety")
    outcomes = store.outcomes(safety.id)
    assert outcomes and all(o.passed and "prompt_leak" in o.critical for o in outcomes)


def test_server_results_cache_and_no_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responses={"question": "yes indeed"}) as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url),
                "prompts/qa.yaml": prompt("Answer briefly."),
                "evalsets/qa.yaml": evalset("qa", 12),
            },
        )
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 12
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        run = store.list_runs()[0]
        outcomes = store.outcomes(run.id)
        assert len(outcomes) == 12 and all(o.passed for o in outcomes)
        assert all(o.cost_usd > 0 for o in outcomes)  # priced from the alias
        # Fully cached re-run: no request reaches the server, results marked cached.
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 12
        run2 = store.list_runs()[0]
        assert run2.id != run.id
        cached = store.outcomes(run2.id)
        assert all(o.cached for o in cached)
        # cached results keep the latency and cost of the call that produced them
        by_case = {o.case_id: o for o in outcomes}
        assert all(o.cost_usd == by_case[o.case_id].cost_usd for o in cached)
        # --no-cache calls again
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 24


def test_repeat_makes_separate_calls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}) as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url),
                "prompts/qa.yaml": prompt("Answer."),
                "evalsets/qa.yaml": evalset("qa", 4, repeat=3),
            },
        )
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 12  # 4 cases x 3 samples, none from the cache
        code, out = llmctl(tmp_path, "eval", "--repeat", "4", capsys=capsys)
        assert srv.requests == 16  # only the 4th sample of each case is new


def test_provider_errors_exit_3_and_name_the_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responses={"question": "yes"}, default="yes") as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url),
                "prompts/qa.yaml": prompt("Answer.", "{{ question }}"),
                "evalsets/qa.yaml": {
                    "prompt": "qa",
                    "models": ["fake"],
                    "evaluators": [{"type": "icontains", "value": "yes"}],
                    "cases": [
                        {"id": "fine", "vars": {"question": "ok"}},
                        {"id": "broken", "vars": {"question": "[[faults=500,500,500,500,500]] boom"}},
                    ],
                },
            },
        )
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 3, out
        assert "broken" in out and "--resume" in out
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        run = store.list_runs()[0]
        outcomes = {o.case_id: o for o in store.outcomes(run.id)}
        assert outcomes["broken"].error and outcomes["fine"].passed
        cause = outcomes["broken"].error.splitlines()[0]
        assert f"1 x {cause}" in out, out  # the reason is printed, not only the case id
        assert "sk-test" not in json.dumps([o.error for o in outcomes.values()])


def test_retries_recover_from_transient_faults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(default="yes", retry_after=0.05) as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url),
                "prompts/qa.yaml": prompt("Answer."),
                "evalsets/qa.yaml": {
                    "prompt": "qa",
                    "models": ["fake"],
                    "evaluators": [{"type": "icontains", "value": "yes"}],
                    "cases": [{"id": "flaky", "vars": {"question": "[[faults=429,500]] hello"}}],
                },
            },
        )
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        [o] = store.outcomes(store.list_runs()[0].id)
        assert o.passed
        assert srv.requests == 3


def test_output_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import xml.etree.ElementTree as ET

    with FakeOpenAIServer(responses={"question": "yes"}) as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url),
                "prompts/qa.yaml": prompt("Answer."),
                "evalsets/qa.yaml": evalset("qa", 5),
            },
        )
        outs = ["r.json", "r.jsonl", "r.csv", "r.md", "r.xml", "r.html"]
        args = [a for name in outs for a in ("--output", name)]
        code, out = llmctl(tmp_path, "eval", *args, capsys=capsys)
        assert code == 0, out
        for name in outs:
            assert (tmp_path / name).stat().st_size > 0, name
        lines = (tmp_path / "r.jsonl").read_text().splitlines()
        assert len(lines) == 5
        suite = ET.parse(tmp_path / "r.xml").getroot()
        assert sum(int(s.get("tests", 0)) for s in suite.iter("testsuite")) == 5
        json.loads((tmp_path / "r.json").read_text())


def test_dry_run_makes_no_calls_and_needs_no_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAKE_API_KEY")
    with FakeOpenAIServer(default="yes") as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url),
                "prompts/qa.yaml": prompt("Answer."),
                "evalsets/qa.yaml": evalset("qa", 3),
            },
        )
        code, out = llmctl(tmp_path, "eval", "--dry-run", capsys=capsys)
        assert code == 0, out
        assert "3 call(s)" in out
        assert srv.requests == 0
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 2 and "FAKE_API_KEY" in out


def test_shards_split_cases_stably(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        tmp_path,
        {
            "llmctl.yaml": config(None),
            "prompts/qa.yaml": prompt("Answer."),
            "evalsets/qa.yaml": evalset("qa", 30, expected="question", models=["echo"]),
        },
    )
    seen: list[str] = []
    for i in (1, 2, 3):
        code, out = llmctl(tmp_path, "eval", "--shard", f"{i}/3", capsys=capsys)
        assert code == 0, out
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        seen.extend(o.case_id for o in store.outcomes(store.list_runs()[0].id))
    assert sorted(seen) == [f"case-{i:03d}" for i in range(30)]


@pytest.mark.parametrize(
    ("evalset_data", "message"),
    [
        (
            {"prompt": "qa", "evaluators": [{"type": "nope"}], "cases": [{"vars": {"question": "x"}}]},
            "unknown evaluator",
        ),
        (
            {"prompt": "qa", "evaluators": [{"type": "regex", "value": "("}], "cases": [{"vars": {"question": "x"}}]},
            "regex",
        ),
        ({"prompt": "qa", "models": ["no-such-alias"], "cases": [{"vars": {"question": "x"}}]}, "no-such-alias"),
        ({"prompt": "qa", "source": "missing.jsonl"}, "not found"),
        ({"prompt": "qa", "cases": [{"vars": {}}]}, "question"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], evalset_data: dict, message: str
) -> None:
    write(
        tmp_path,
        {
            "llmctl.yaml": config(None),
            "prompts/qa.yaml": prompt("Answer."),
            "evalsets/qa.yaml": evalset_data,
        },
    )
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 2, out
    assert message in out
    assert "Traceback" not in out
    db = tmp_path / ".llmctl" / "llmctl.duckdb"
    if db.exists():
        assert Store(db).list_runs() == []


def test_shard_stores_merge_into_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "llmctl.yaml": config(None),
            "prompts/qa.yaml": prompt("Answer."),
            "evalsets/qa.yaml": evalset("qa", 20, expected="question", models=["echo"]),
        },
    )
    shards = []
    for i in (1, 2):
        db = tmp_path / f"shard-{i}.duckdb"
        monkeypatch.setenv("LLMCTL_DB", str(db))
        code, out = llmctl(tmp_path, "eval", "--shard", f"{i}/2", capsys=capsys)
        assert code == 0, out
        shards.append(db)
    monkeypatch.delenv("LLMCTL_DB")
    code, out = llmctl(tmp_path, "runs", "merge", *map(str, shards), capsys=capsys)
    assert code == 0, out
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    [run] = store.list_runs()
    ids = sorted(o.case_id for o in store.outcomes(run.id))
    assert ids == [f"case-{i:03d}" for i in range(20)]
    assert run.status == "completed"


def test_judge_calls_are_cached_and_samples_stay_separate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    verdict = '{"score": 0.9, "pass": true, "reason": "fine"}'
    with FakeOpenAIServer(responses={"<rubric>": verdict, "question": "yes"}) as srv:
        cfg = config(srv.base_url, judge={"model": "fake"})
        ev = evalset("qa", 5)
        ev["evaluators"].append({"type": "judge", "rubric": "Is it polite?", "samples": 3})
        write(tmp_path, {"llmctl.yaml": cfg, "prompts/qa.yaml": prompt("Answer."), "evalsets/qa.yaml": ev})
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 5 + 5 * 3  # each judge sample is its own call
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 0, out
        assert srv.requests == 20  # a fully cached re-run calls neither the model nor the judge
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        outcomes = store.outcomes(store.list_runs()[0].id)
        assert all(o.passed and o.scores["judge"] == pytest.approx(0.9) for o in outcomes)
        code, out = llmctl(tmp_path, "eval", "--no-cache", capsys=capsys)
        assert srv.requests == 40


def test_a_model_that_always_fails_the_same_way_is_stopped_early(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad key: every call fails identically. After a few, the rest are recorded at once with the cause."""
    with FakeOpenAIServer(default="yes", require_key="sk-the-right-one") as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url, concurrency=2),
                "prompts/qa.yaml": prompt("Answer."),
                "evalsets/qa.yaml": evalset("qa", 60),
            },
        )
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 3, out
        assert srv.requests <= 8 + 2, srv.requests  # the first 8 plus what was in flight, not 60
        assert "stopped calling fake" in out and "--resume" in out, out
        store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
        outcomes = store.outcomes(store.list_runs()[0].id)
        assert len(outcomes) == 60 and all(o.error for o in outcomes)
        assert sum("not called: the previous" in (o.error or "") for o in outcomes) >= 50


def test_intermittent_failures_do_not_stop_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(default="yes", rate_500=0.3, seed=3) as srv:
        write(
            tmp_path,
            {
                "llmctl.yaml": config(srv.base_url, retries=0),
                "prompts/qa.yaml": prompt("Answer."),
                "evalsets/qa.yaml": evalset("qa", 60),
            },
        )
        code, out = llmctl(tmp_path, "eval", capsys=capsys)
        assert code == 3 and "stopped calling" not in out, out
        assert srv.requests == 60
