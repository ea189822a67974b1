"""CSV exports neutralise spreadsheet formulas (OWASP CSV injection): `runs export -f csv` and
`eval --output r.csv` (issue 22)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from llmctl.outputs import csv_cell
from llmctl.store import ResultRow, Store
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env
from tests.labelled_project import make

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\tx", "\rx"]


def test_csv_cell_prefixes_formula_starts_only() -> None:
    for text in HOSTILE:
        assert csv_cell(text) == "'" + text
    for text in ("answer ok", "", " =x", "a=b", "'quoted"):
        assert csv_cell(text) == text


def test_runs_export_csv_neutralises_formulas(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    rid = store.create_run(evalset="x", config={}, git_commit=None, git_branch=None)
    with store.writer(rid) as w:
        for i, text in enumerate(HOSTILE):
            w.add(ResultRow(result_key=f"k{i}", prompt="p", version_hash="sha256:ab", case_id=text, model="@m",
                            repeat_index=0, input=[{"role": "user", "content": "=1+2"}], output=text,
                            passed=True, latency_ms=-1.5), [])  # fmt: skip
    store.finish_run(rid, "completed", {})
    dest = store.export(rid, "csv", tmp_path / "r.csv")
    rows = list(csv.DictReader(dest.open(encoding="utf-8", newline="")))
    assert len(rows) == len(HOSTILE)
    for row in rows:
        for key, value in row.items():
            if key != "latency_ms":  # a number column: -1.5 is a number to a spreadsheet too
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (key, value)
    assert sorted(r["output"] for r in rows) == sorted("'" + t for t in HOSTILE)
    assert {r["model"] for r in rows} == {"'@m"}
    assert rows[0]["latency_ms"] == "-1.5"  # numbers are numbers, not text


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    root = tmp_path / "proj"
    repo = make(root)
    yaml = (root / "llmctl.yaml").read_text().replace('default: "answer ok"', "default: '=HYPERLINK(\"http://e.x\")'")
    repo.commit({"llmctl.yaml": yaml}, "hostile")
    monkeypatch.chdir(root)
    return root


def test_eval_output_csv_neutralises_formulas(project: Path, capsys, monkeypatch) -> None:
    code, _out, err = cli(["eval", "--output", "r.csv"], capsys, monkeypatch)
    assert code in (0, 1), err
    rows = list(csv.DictReader((project / "r.csv").open(encoding="utf-8", newline="")))
    assert len(rows) == 10
    assert {r["output"] for r in rows if "HYPERLINK" in r["output"]} == {'\'=HYPERLINK("http://e.x")'}
