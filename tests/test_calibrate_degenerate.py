"""`judge calibrate` on too few or one-sided labels (issue 22): no kappa gate passes below
`min_labels`, and degenerate tables say why instead of a kappa of 1 with [1, 1] or [0, 0]."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from llmctl.calibrate import kappa_explained
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env
from tests.labelled_project import make, write_csv


@pytest.mark.parametrize(
    ("table", "kappa", "needle"),
    [
        ((1, 0, 1, 0), 1.0, "standard error is 0"),  # 2 agreeing labels, both classes
        ((2, 0, 0, 0), None, "the people gave one class only (pass on all 2)"),
        ((3, 0, 0, 2), None, "the people gave one class only (pass on all 5)"),  # judge varies, people do not
        ((0, 0, 4, 3), None, "the judge gave one class only (fail on all 7)"),
    ],
)
def test_degenerate_tables_say_why_without_a_raw_warning(table, kappa, needle: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, ci, why = kappa_explained(*table)
    assert got == kappa and ci is None and needle in why


def test_a_sound_table_has_no_note() -> None:
    kappa, ci, why = kappa_explained(20, 3, 15, 2)
    assert kappa is not None and ci is not None and ci[0] < kappa < ci[1] and why == ""


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: str) -> Path:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    root = tmp_path / "proj"
    make(root, extra=gate)
    monkeypatch.chdir(root)
    return root


def test_a_kappa_gate_does_not_pass_below_the_default_min_labels(tmp_path: Path, capsys, monkeypatch) -> None:
    root = _project(tmp_path, monkeypatch, "gate: {judges: {min_kappa: 0.1}}\n")
    cli(["eval", "support"], capsys, monkeypatch)
    cli(["labels", "import", str(write_csv(root / "r.csv"))], capsys, monkeypatch)
    code, out, _err = cli(["judge", "calibrate"], capsys, monkeypatch)
    assert code == 0 and "note: only 10 label(s), fewer than 30" in out
    code, out, err = cli(["eval", "support"], capsys, monkeypatch)
    assert code == 1, out + err  # kappa 0.4 clears 0.1, but on 10 labels
    assert "fewer than min_labels 30" in out + err


def test_two_agreeing_labels_do_not_pass_a_kappa_gate(tmp_path: Path, capsys, monkeypatch) -> None:
    root = _project(tmp_path, monkeypatch, "gate: {judges: {min_kappa: 0.6}}\n")
    cli(["eval", "support"], capsys, monkeypatch)
    (root / "two.csv").write_text("case_id,label\nc0,pass\nc9,fail\n")  # the judge agrees on both
    cli(["labels", "import", "two.csv"], capsys, monkeypatch)
    code, out, _err = cli(["judge", "calibrate", "--json"], capsys, monkeypatch)
    [cal] = json.loads(out)
    assert cal["n"] == 2 and cal["kappa"] == 1.0 and cal["kappa_ci"] is None
    assert "only 2 label(s)" in cal["note"] and "standard error is 0" in cal["note"]
    code, out, err = cli(["eval", "support"], capsys, monkeypatch)
    assert code == 1 and "fewer than min_labels 30" in out + err


def test_one_class_labels_say_so(tmp_path: Path, capsys, monkeypatch) -> None:
    root = _project(tmp_path, monkeypatch, "")
    cli(["eval", "support"], capsys, monkeypatch)
    (root / "one.csv").write_text("case_id,label\n" + "".join(f"c{i},pass\n" for i in range(10)))
    cli(["labels", "import", "one.csv"], capsys, monkeypatch)
    code, out, err = cli(["judge", "calibrate"], capsys, monkeypatch)
    assert code == 0
    assert "kappa undefined" in out and "people gave one class only" in out
    assert "[0.000, 0.000]" not in out and "Warning" not in out + err
