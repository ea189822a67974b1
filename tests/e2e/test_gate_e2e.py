"""The CI gate end to end: `llmctl eval --baseline REF` in a real git repo against the local server."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, git, init_repo, llmctl, write

N_CASES = 20


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)


def qa_prompt(user: str, system: str = "You answer support questions.") -> dict:
    return {
        "inputs": {"question": {"type": "string"}},
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }


@pytest.fixture()
def server():
    with FakeOpenAIServer(
        latency_ms=40,
        responses={"politely": "yes, certainly", "kindly": "yes, gladly"},
        default="no",
    ) as srv:
        yield srv


@pytest.fixture()
def repo(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    write(
        tmp_path,
        {
            "llmctl.yaml": config(
                server.base_url,
                gate={
                    "quality": {"max_drop": 0.05},
                    "cost": {"max_increase": 0.10},
                    "latency": {"p95_max_increase": 1.0},
                },
            ),
            "prompts/qa.yaml": qa_prompt("Reply politely: {{ question }}"),
            "prompts/other.yaml": qa_prompt("Other politely: {{ question }}"),
            "evalsets/qa.yaml": {
                "prompt": "qa",
                "models": ["fake"],
                "evaluators": [{"type": "icontains", "value": "yes"}],
                "cases": [{"id": f"case-{i:02d}", "vars": {"question": f"q{i}"}} for i in range(N_CASES)],
            },
        },
    )
    init_repo(tmp_path)
    return tmp_path


def test_quality_regression_fails_and_names_flipped_cases(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply tersely: {{ question }}")})
    code, out = llmctl(repo, "eval", "--baseline", "main", "--output", "report.md", capsys=capsys)
    assert code == 1, out
    assert "gate FAILED" in out and "pass_rate" in out
    assert "case-00" in out  # flipped pass -> fail cases are named
    report = (repo / "report.md").read_text()
    assert "case-00" in report and "FAIL" in report
    store = Store(repo / ".llmctl" / "llmctl.duckdb")
    candidate = store.list_runs()[0]
    assert candidate.baseline_run_id


def test_wording_only_change_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply kindly: {{ question }}")})
    code, out = llmctl(repo, "eval", "--baseline", "main", capsys=capsys)
    assert code == 0, out
    assert "gate PASSED" in out


def test_cost_increase_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_system = "You answer support questions. " + "Be careful and thorough in every answer. " * 20
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply politely: {{ question }}", system=long_system)})
    code, out = llmctl(repo, "eval", "--baseline", "main", capsys=capsys)
    assert code == 1, out
    assert "cost_per_case" in out and "gate FAILED" in out


def test_latency_increase_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply politely [[latency_ms=200]]: {{ question }}")})
    code, out = llmctl(repo, "eval", "--baseline", "main", capsys=capsys)
    assert code == 1, out
    assert "latency_p95" in out


def test_provider_failures_exit_3(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply politely [[faults=500,500,500,500,500,500]]: {{ question }}")})
    code, out = llmctl(repo, "eval", "--baseline", "main", capsys=capsys)
    assert code == 3, out


def test_changed_only_skips_unchanged_evalsets(
    repo: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, {"prompts/other.yaml": qa_prompt("Other kindly: {{ question }}")})
    before = server.requests
    code, out = llmctl(repo, "eval", "--baseline", "main", "--changed-only", capsys=capsys)
    assert code == 0, out
    assert "skipped qa" in out
    assert server.requests == before


def test_changed_only_sees_partial_changes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        repo,
        {
            "prompts/partials/tone.jinja": "politely",
            "prompts/qa.yaml": qa_prompt('Reply {% include "partials/tone.jinja" %}: {{ question }}'),
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "use a partial")
    git(repo, "branch", "base")
    write(repo, {"prompts/partials/tone.jinja": "tersely"})
    code, out = llmctl(repo, "eval", "--baseline", "base", "--changed-only", capsys=capsys)
    assert code == 1, out  # the partial's change reached the prompt's version and broke it
    assert "skipped qa" not in out


def test_unchanged_side_comes_from_the_cache(
    repo: Path, server: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = llmctl(repo, "eval", "--baseline", "main", capsys=capsys)
    assert code == 0, out
    assert server.requests == N_CASES  # baseline called the model; the identical candidate was cached


def test_unknown_baseline_ref_is_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = llmctl(repo, "eval", "--baseline", "no-such-branch", capsys=capsys)
    assert code == 2, out
    assert "no-such-branch" in out


def test_sharded_baseline_runs_merge_and_gate(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply tersely: {{ question }}")})
    shards = []
    for i in (1, 2):
        db = repo / f"shard-{i}.duckdb"
        monkeypatch.setenv("LLMCTL_DB", str(db))
        code, out = llmctl(repo, "eval", "--baseline", "main", "--shard", f"{i}/2", capsys=capsys)
        assert code == 1, out
        shards.append(str(db))
    monkeypatch.delenv("LLMCTL_DB")
    code, out = llmctl(repo, "runs", "merge", *shards, capsys=capsys)
    assert code == 1, out  # the whole suite, baseline against candidate, still fails the gate
    assert "baseline runs" in out and "gate FAILED" in out
    store = Store(repo / ".llmctl" / "llmctl.duckdb")
    candidate = store.list_runs()[0]
    assert candidate.baseline_run_id
    assert len(store.outcomes(candidate.id)) == N_CASES
    assert len(store.outcomes(candidate.baseline_run_id)) == N_CASES


def test_report_only_rows_show_with_verbose(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply kindly: {{ question }}")})
    code, out = llmctl(repo, "eval", "--baseline", "main", "--no-cache", capsys=capsys)
    assert code == 0, out
    assert "report-only row(s) not shown (--verbose shows them)" in out
    assert "report only" not in out
    code, verbose = llmctl(repo, "eval", "--baseline", "main", "--no-cache", "--verbose", capsys=capsys)
    assert code == 0, verbose
    assert "not shown" not in verbose and "report only" in verbose
    assert "detects a pass-rate drop of" in verbose  # what the suite can see, on every comparison


def test_latency_with_only_cached_results_is_skipped_and_says_why(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(repo, {"prompts/qa.yaml": qa_prompt("Reply kindly: {{ question }}")})
    code, out = llmctl(repo, "eval", "--baseline", "main", capsys=capsys)
    assert code == 0, out
    code, out = llmctl(repo, "eval", "--baseline", "main", capsys=capsys)  # every result from the cache now
    assert code == 0, out
    assert "skipped" in out
    assert "latency_p95: not enough fresh results: 0 paired case(s)" in out
