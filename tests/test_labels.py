"""Labels files, `llmctl labels import`, `llmctl review` and the `human` evaluator."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from llmctl.errors import InputError
from llmctl.labels import LabelIndex, add_labels, make_label, output_sha256, read_labels
from llmctl.store import Store
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env
from tests.labelled_project import HUMAN_PASS, evaluate, make, read_jsonl, write_csv


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.setenv("LLMCTL_REVIEWER", "alice")
    root = tmp_path / "proj"
    make(root)
    monkeypatch.chdir(root)
    return root


def test_a_label_is_bound_to_the_output_text(tmp_path: Path) -> None:
    lb = make_label("c1", "demo", "héllo", "pass", note="good", by="bob", at="2026-01-01T00:00:00Z")
    assert lb.output_sha256 == output_sha256("héllo") == __import__("hashlib").sha256("héllo".encode()).hexdigest()
    path = add_labels(tmp_path, "support", [lb])
    assert path == tmp_path / "evalsets" / "labels" / "support.jsonl"
    assert read_jsonl(path) == [
        {"case_id": "c1", "model": "demo", "output_sha256": lb.output_sha256, "label": "pass", "score": None,
         "note": "good", "by": "bob", "at": "2026-01-01T00:00:00Z"}
    ]  # fmt: skip
    # a newer label of the same output replaces the old one; another output is another line
    add_labels(tmp_path, "support", [make_label("c1", "demo", "héllo", "fail"), make_label("c1", "demo", "x", "pass")])
    labels = read_labels(path)
    assert len(labels) == 2
    index = LabelIndex(labels)
    assert index.get("c1", "demo", "héllo").label == "fail"
    assert index.get("c1", "demo", "changed") is None


def test_a_bad_labels_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    good = json.dumps({"case_id": "a", "model": "m", "output_sha256": "0" * 64, "label": "pass"})
    path.write_text(
        good + "\n" + json.dumps({"case_id": "a", "model": "m", "output_sha256": "0" * 64, "label": "maybe"})
    )
    with pytest.raises(InputError) as err:
        read_labels(path)
    assert err.value.line == 2 and "pass or fail" in err.value.message


def test_labels_import_binds_rows_to_the_runs_outputs(project: Path, capsys, monkeypatch) -> None:
    run_id, _ = evaluate(project)
    code, out, err = cli(["labels", "import", str(write_csv(project / "reviewed.csv"))], capsys, monkeypatch)
    assert code == 0, err
    assert "imported 10 label(s) into evalsets/labels/support.jsonl" in out
    rows = read_jsonl(project / "evalsets" / "labels" / "support.jsonl")
    store = Store(project / ".llmctl" / "llmctl.duckdb")
    outputs = {o.case_id: o.output for o in store.outcomes(run_id)}
    assert {r["case_id"]: r["output_sha256"] for r in rows} == {c: output_sha256(o) for c, o in outputs.items()}
    assert {r["case_id"] for r in rows if r["label"] == "pass"} == {f"c{i}" for i in HUMAN_PASS}
    assert all(r["by"] == "alice" and r["model"] == "demo" for r in rows)
    # mirrored in the store
    assert len(store.labels("support")) == 10


def test_labels_import_refuses_a_case_the_run_lacks(project: Path, capsys, monkeypatch) -> None:
    evaluate(project)
    bad = project / "bad.csv"
    bad.write_text("case_id,label\nc1,pass\nnope,fail\n")
    code, _out, err = cli(["labels", "import", str(bad)], capsys, monkeypatch)
    assert code == 2
    assert "bad.csv:3:" in err and "'nope'" in err
    assert not (project / "evalsets" / "labels" / "support.jsonl").exists()


def _human_evalset_with_two_unlabelled(project: Path, capsys, monkeypatch, gate: str = "") -> None:  # type: ignore[no-untyped-def]
    """evalsets/human.yaml: cases c0..c9 scored by the `human` evaluator only, labels kept for c0..c7."""
    evaluate(project)
    cli(["labels", "import", str(write_csv(project / "reviewed.csv"))], capsys, monkeypatch)
    path = project / "evalsets" / "labels" / "support.jsonl"
    rows = [r for r in read_jsonl(path) if r["case_id"] not in ("c8", "c9")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (project / "evalsets" / "human.yaml").write_text(
        "prompt: summarize\nmodels: [demo]\nevaluators: [{type: human, labels: evalsets/labels/support.jsonl}]\n"
        + gate
        + "cases:\n"
        + "".join(f"  - id: c{i}\n    vars: {{ticket: '{i}'}}\n" for i in range(10))
    )


def test_human_evaluator_scores_labelled_outputs_and_leaves_others_unscored(project: Path, capsys, monkeypatch) -> None:
    _human_evalset_with_two_unlabelled(project, capsys, monkeypatch)
    run_id, _ = evaluate(project, "human")
    store = Store(project / ".llmctl" / "llmctl.duckdb")
    by_case = {o.case_id: o for o in store.outcomes(run_id)}
    for i in range(8):
        assert by_case[f"c{i}"].passed is (i in HUMAN_PASS), i
        assert "labelled" in by_case[f"c{i}"].reasons["human"]
    stored = store.query(
        "SELECT s.score, s.passed, s.reason FROM scores s JOIN results r USING (run_id, result_key) "
        "WHERE r.run_id = ? AND r.case_id = 'c8'",
        [run_id],
    )
    assert stored == [(None, None, "unscored: no human label for this output")]


def test_a_case_with_only_an_unlabelled_human_is_unscored_not_passed(project: Path, capsys, monkeypatch) -> None:
    """Issue 22 item 13: unlabelled = unscored (DESIGN.md). A case whose only evaluator is an
    unlabelled `human` is neither passed nor failed: stored with NULL passed and score, left out of
    the pass rate and the gate's pass-rate checks, and every report says how many there are."""
    _human_evalset_with_two_unlabelled(project, capsys, monkeypatch, gate="gate: {quality: {min_pass_rate: 0.7}}\n")
    code, out, err = cli(["eval", "human"], capsys, monkeypatch)
    # 6 of the 8 labelled pass (75%): over 10 with the unlabelled as passes it would be 80%, as fails 60%
    assert code == 0, out + err
    assert "75.0%" in out and "2 case(s) not yet labelled" in out, out
    store = Store(project / ".llmctl" / "llmctl.duckdb")
    run = store.list_runs(1)[0]
    stored = store.query(
        "SELECT case_id, passed, score, error FROM results WHERE run_id = ? AND case_id IN ('c8', 'c9') "
        "ORDER BY case_id",
        [run.id],
    )
    assert stored == [("c8", None, None, None), ("c9", None, None, None)]
    group = run.summary_json["groups"][0]
    assert (group["passed"], group["failed"], group["unscored"], group["errors"]) == (6, 2, 2, 0)
    assert group["pass_rate"] == pytest.approx(0.75)
    # the run list (`runs list`, the viewer's run pages) counts over the same 8 results
    assert (run.n_unscored, run.pass_rate) == (2, pytest.approx(0.75))
    verdict = run.summary_json["verdict"]
    assert any("2 case(s) not yet labelled" in n for n in verdict["notes"])
    assert verdict["counts"]["unscored"] == 2
    by_case = {o.case_id: o for o in store.outcomes(run.id)}
    assert by_case["c8"].unscored and not by_case["c8"].passed and by_case["c8"].error is None
    assert not by_case["c0"].unscored and by_case["c0"].passed
    # the failing list leaves them out; Markdown, HTML and JUnit say they are not labelled
    code, out, err = cli(["runs", "show", run.id, "--failed", "--json"], capsys, monkeypatch)
    assert code == 0, err
    assert {f["case_id"] for f in json.loads(out)["failing"]} == {"c4", "c7"}
    md, html, xml = project / "r.md", project / "r.html", project / "r.xml"
    code, out, err = cli(["report", run.id, "-o", str(md), "-o", str(html), "-o", str(xml)], capsys, monkeypatch)
    assert code == 0, err
    assert "2 case\\(s\\) not yet labelled" in md.read_text()  # Markdown-escaped
    page = html.read_text()
    assert "2 case(s) not yet labelled" in page and ">UNSCORED<" in page
    assert 'skipped="2"' in xml.read_text()


def test_review_labels_at_the_terminal(project: Path, capsys, monkeypatch) -> None:
    evaluate(project)
    answers = "\n".join(["p", "f wrong tone", "s", "x", "p", "q"]) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(answers))
    code, out, err = cli(["review", "latest"], capsys, monkeypatch)
    assert code == 0, err
    assert "p pass · f fail" in out  # the keys, after an unknown one
    assert "labelled 3 output(s) in evalsets/labels/support.jsonl" in out
    rows = {r["case_id"]: r for r in read_jsonl(project / "evalsets" / "labels" / "support.jsonl")}
    assert {k: v["label"] for k, v in rows.items()} == {"c0": "pass", "c1": "fail", "c3": "pass"}
    assert rows["c1"]["note"] == "wrong tone"
    # the run's hostile output is shown as text without its escape-free markup being interpreted
    assert "\x1b" not in out
