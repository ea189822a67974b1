"""`llmctl judge calibrate`: confusion matrix and kappa against a hand computation; gate.judges."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from llmctl.calibrate import judge_hash, kappa_with_ci
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env
from tests.labelled_project import evaluate, make, write_csv


def hand_kappa(tp: int, fp: int, tn: int, fn: int) -> tuple[float, float]:
    """Cohen's kappa and its asymptotic SE (Fleiss, Cohen & Everitt 1969), written out."""
    n = tp + fp + tn + fn
    p = [[tp / n, fn / n], [fp / n, tn / n]]  # rows human pass/fail, columns judge pass/fail
    po = p[0][0] + p[1][1]
    rows = [sum(p[0]), sum(p[1])]
    cols = [p[0][0] + p[1][0], p[0][1] + p[1][1]]
    pe = rows[0] * cols[0] + rows[1] * cols[1]
    a = sum(p[i][i] * ((1 - pe) - (rows[i] + cols[i]) * (1 - po)) ** 2 for i in range(2))
    b = (1 - po) ** 2 * sum(p[i][j] * (cols[i] + rows[j]) ** 2 for i in range(2) for j in range(2) if i != j)
    c = (po * pe - 2 * pe + po) ** 2
    return (po - pe) / (1 - pe), math.sqrt((a + b - c) / (n * (1 - pe) ** 4))


def test_kappa_and_interval_match_the_hand_computation() -> None:
    # po = 0.7; judge passes 5/10, people 6/10: pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    kappa, ci = kappa_with_ci(4, 1, 3, 2)
    k, se = hand_kappa(4, 1, 3, 2)
    assert kappa == pytest.approx(0.4) == pytest.approx(k)
    assert ci == pytest.approx([0.4 - 1.959964 * se, 0.4 + 1.959964 * se], abs=1e-5)
    assert kappa_with_ci(5, 0, 0, 0) == (None, None)  # one class only: undefined, not 0 or 1
    assert kappa_with_ci(0, 0, 0, 0) == (None, None)


def test_judge_hash_covers_the_verdict_relevant_config_only() -> None:
    base = {"type": "judge", "rubric": "r", "model": "m", "prompt_sha256": "sha256:aa"}
    assert judge_hash(base) == judge_hash({**base, "weight": 2})
    assert judge_hash(base) != judge_hash({**base, "prompt_sha256": "sha256:bb"})
    assert judge_hash(base) != judge_hash({**base, "model": "other"})
    assert judge_hash(base).startswith("sha256:")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    root = tmp_path / "proj"
    make(root)
    monkeypatch.chdir(root)
    return root


def test_calibrate_gives_the_exact_confusion_matrix(project: Path, capsys, monkeypatch) -> None:
    evaluate(project)
    assert cli(["labels", "import", str(write_csv(project / "r.csv"))], capsys, monkeypatch)[0] == 0
    code, out, err = cli(["judge", "calibrate", "--json"], capsys, monkeypatch)
    assert code == 0, err
    [cal] = json.loads(out)
    assert cal["evaluator"] == "judge"
    assert (cal["n"], cal["tp"], cal["fp"], cal["tn"], cal["fn"]) == (10, 4, 1, 3, 2)
    assert cal["tpr"] == pytest.approx(4 / 6) and cal["tnr"] == pytest.approx(3 / 4)
    assert cal["accuracy"] == pytest.approx(0.7)
    assert cal["kappa"] == pytest.approx(0.4)
    assert cal["kappa_ci"][0] < 0.4 < cal["kappa_ci"][1]
    assert sorted(d["case_id"] for d in cal["disagreements"]) == ["c4", "c5", "c6"]
    assert {d["case_id"]: (d["judge"], d["human"]) for d in cal["disagreements"]}["c4"] == ("pass", "fail")
    # the text form says the same
    code, out, _ = cli(["judge", "calibrate", "support"], capsys, monkeypatch)
    assert "n=10  tp=4 fp=1 tn=3 fn=2" in out and "kappa 0.400" in out and "disagree: c4 [demo] judge pass" in out


def test_gate_refuses_an_uncalibrated_or_weak_judge(tmp_path: Path, capsys, monkeypatch) -> None:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    root = tmp_path / "proj"
    make(root, extra="gate: {judges: {min_kappa: 0.6, min_labels: 5}}\n")
    monkeypatch.chdir(root)
    code, out, err = cli(["eval", "support"], capsys, monkeypatch)
    assert code == 1, out + err
    assert "not calibrated" in out + err
    cli(["labels", "import", str(write_csv(root / "r.csv"))], capsys, monkeypatch)
    cli(["judge", "calibrate"], capsys, monkeypatch)
    code, out, err = cli(["eval", "support"], capsys, monkeypatch)
    assert code == 1
    assert "kappa 0.400, below min_kappa 0.6" in out + err
    # a bar it clears: the gate passes
    (root / "evalsets" / "support.yaml").write_text(
        (root / "evalsets" / "support.yaml").read_text().replace("min_kappa: 0.6", "min_kappa: 0.3")
    )
    code, out, err = cli(["eval", "support"], capsys, monkeypatch)
    assert code == 0, out + err


def test_promote_shows_the_calibration_of_the_judges_behind_its_gate(tmp_path: Path, capsys, monkeypatch) -> None:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    root = tmp_path / "proj"
    make(root, extra="gate: {judges: {min_kappa: 0.3, min_labels: 10}}\n")  # 10 labels: below the default 30
    monkeypatch.chdir(root)
    cli(["eval", "support"], capsys, monkeypatch)
    cli(["labels", "import", str(write_csv(root / "r.csv"))], capsys, monkeypatch)
    cli(["judge", "calibrate"], capsys, monkeypatch)
    assert cli(["eval", "support"], capsys, monkeypatch)[0] == 0
    code, out, err = cli(["promote", "summarize", "--to", "production", "--no-commit"], capsys, monkeypatch)
    assert code == 0, out + err
    assert "judge judge: kappa 0.400 [" in out and "on 10 label(s)" in out


def test_any_evaluator_can_ask_to_be_calibrated() -> None:
    from llmctl.calibrate import is_judge

    assert is_judge({"type": "judge"}) and is_judge({"type": "pairwise"})
    assert is_judge({"type": "contains", "calibrate": True})
    assert not is_judge({"type": "contains"})
