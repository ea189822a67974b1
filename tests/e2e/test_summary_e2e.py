"""One run summary on every screen: a run with provider errors shows the same mean cost, pass
rate and counts in the terminal, `runs show`, Markdown, HTML and JSON (issue 14: the runner and
the reports used to divide cost by different counts whenever a result had an error)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llmctl import fmt
from llmctl.store import Store
from llmctl.testing.server import FakeOpenAIServer
from tests.e2e.project import config, evalset, llmctl, prompt, write


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _project(root: Path, base_url: str) -> None:
    ev = evalset("qa", 0)
    questions = [f"question number {i}" for i in range(6)]
    questions += ["nope question 6", "nope question 7"]  # answered "no": they fail
    questions += ["question 8 [[faults=500,500,500]]", "question 9 [[faults=500,500,500]]"]  # errors
    ev["cases"] = [{"id": f"case-{i}", "vars": {"question": q}} for i, q in enumerate(questions)]
    write(
        root, {"llmctl.yaml": config(base_url, retries=0), "prompts/qa.yaml": prompt("Answer."), "evalsets/qa.yaml": ev}
    )


def test_a_run_with_errors_reads_the_same_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(responses={"nope": "no", "question": "yes"}) as srv:
        _project(tmp_path, srv.base_url)
        code, terminal = llmctl(tmp_path, "eval", "-o", "r.md", "-o", "r.html", "-o", "r.json", capsys=capsys)
    assert code == 3, terminal  # provider errors left cases without results
    store = Store(tmp_path / ".llmctl" / "llmctl.duckdb")
    run_id = str(store.list_runs()[0].id)
    # the figures, independently from the stored results: errors are not graded and cost nothing
    ((n, errors, passed, ok_cost, all_cost),) = store.query(
        "SELECT count(*), count(error), count_if(passed AND error IS NULL), "
        "avg(cost_usd) FILTER (error IS NULL), avg(cost_usd) FROM results WHERE run_id = ?",
        [run_id],
    )
    assert (n, errors, passed) == (10, 2, 6)
    rate, cost = fmt.pct(passed / (n - errors)), fmt.usd_per_case(ok_cost)
    assert rate == "75.0%" and cost != fmt.usd_per_case(all_cost)  # the denominators would disagree

    (group,) = store.get_run(run_id).summary_json["groups"]  # what the runner stored
    assert (group["n"], group["errors"], group["passed"], group["failed"]) == (10, 2, 6, 2)
    assert group["pass_rate"] == pytest.approx(0.75) and group["cost_usd_mean"] == pytest.approx(ok_cost)

    row = next(line for line in terminal.splitlines() if "qa / fake" in line)
    assert rate in row and cost in row and re.search(r"\b10\b.*\b2\s*\W*$", row), row

    code, shown = llmctl(tmp_path, "runs", "show", run_id, capsys=capsys)
    assert code == 0
    show_row = next(line for line in shown.splitlines() if "qa / fake" in line)
    assert show_row == row  # `runs show` renders the stored summary the same way

    md = (tmp_path / "r.md").read_text()
    md_row = next(line for line in md.splitlines() if line.startswith("| qa | fake |"))
    cells = [c.strip() for c in md_row.strip("|").split("|")]
    assert cells[2:8] == ["10", "10", rate, cells[5], "2", cost], md_row  # cases, results, rate, CI, errors, cost

    code, _ = llmctl(tmp_path, "report", "latest", "-o", "again.md", capsys=capsys)
    assert code == 0 and md_row in (tmp_path / "again.md").read_text()  # from the stored summary

    html = (tmp_path / "r.html").read_text()
    table = html.split('<table id="summary">', 1)[1].split("</table>", 1)[0]
    html_cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert html_cells[:8] == ["qa", "fake", "10", "10", rate, cells[5], "2", cost], html_cells

    doc = json.loads((tmp_path / "r.json").read_text())
    (jgroup,) = doc["summary"]["groups"]
    assert {k: jgroup[k] for k in ("n", "errors", "passed", "failed", "pass_rate", "cost_usd_mean")} == {
        k: group[k] for k in ("n", "errors", "passed", "failed", "pass_rate", "cost_usd_mean")
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["run"]["started_at"])  # times in one form

    listed = next(r for r in store.list_runs() if r.id == run_id)
    assert listed.pass_rate == pytest.approx(0.75)  # `runs list` and the viewer: the same rate
