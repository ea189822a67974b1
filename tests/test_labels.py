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


def test_human_evaluator_scores_labelled_outputs_and_leaves_others_unscored(project: Path, capsys, monkeypatch) -> None:
    evaluate(project)
    cli(["labels", "import", str(write_csv(project / "reviewed.csv"))], capsys, monkeypatch)
    # keep only labels for c0..c7 (c8, c9 unlabelled); evaluate with the human evaluator only
    path = project / "evalsets" / "labels" / "support.jsonl"
    rows = [r for r in read_jsonl(path) if r["case_id"] not in ("c8", "c9")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (project / "evalsets" / "human.yaml").write_text(
        "prompt: summarize\nmodels: [demo]\nevaluators: [{type: human, labels: evalsets/labels/support.jsonl}]\ncases:\n"
        + "".join(f"  - id: c{i}\n    vars: {{ticket: '{i}'}}\n" for i in range(10))
    )
    run_id, _ = evaluate(project, "human")
    store = Store(project / ".llmctl" / "llmctl.duckdb")
    by_case = {o.case_id: o for o in store.outcomes(run_id)}
    for i in range(8):
        assert by_case[f"c{i}"].passed is (i in HUMAN_PASS), i
        assert "labelled" in by_case[f"c{i}"].reasons["human"]
    # unlabelled: no verdict, so the case is not failed
    assert by_case["c8"].passed is True and "human" not in by_case["c8"].scores
    stored = store.query(
        "SELECT s.score, s.passed, s.reason FROM scores s JOIN results r USING (run_id, result_key) "
        "WHERE r.run_id = ? AND r.case_id = 'c8'",
        [run_id],
    )
    assert stored == [(None, None, "unscored: no human label for this output")]


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
