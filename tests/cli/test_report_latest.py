"""`report latest` and `runs show latest` cover every evalset of the newest `llmctl eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.project import config, evalset, llmctl, prompt, write


def _two_evalsets(root: Path) -> None:
    write(
        root,
        {
            "llmctl.yaml": config(None),
            "prompts/qa.yaml": prompt("Answer."),
            "prompts/qb.yaml": prompt("Answer too."),
            "evalsets/qa.yaml": evalset("qa", 3, expected="question", models=["echo"]),
            "evalsets/qb.yaml": evalset("qb", 4, expected="question", models=["echo"]),
        },
    )


def test_report_latest_covers_every_evalset_of_the_last_eval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _two_evalsets(tmp_path)
    assert llmctl(tmp_path, "eval", "qa", capsys=capsys)[0] == 0  # an older eval, not part of "latest"
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    code, out = llmctl(tmp_path, "report", "latest", "-o", str(tmp_path / "r.json"), capsys=capsys)
    assert code == 0, out
    data = json.loads((tmp_path / "r.json").read_text())
    text = json.dumps(data)
    assert "qa" in text and "qb" in text
    results = data.get("results") or data.get("cases") or []
    assert len(results) == 7, list(data)

    code, out = llmctl(tmp_path, "runs", "show", "latest", "--json", capsys=capsys)
    runs = json.loads(out)
    assert [r["evalset"] for r in runs] == ["qa", "qb"]
    assert len({r["config"]["invocation"] for r in runs}) == 1


def test_a_single_run_id_reports_that_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _two_evalsets(tmp_path)
    assert llmctl(tmp_path, "eval", capsys=capsys)[0] == 0
    code, out = llmctl(tmp_path, "runs", "list", "--json", capsys=capsys)
    qa = next(r["id"] for r in json.loads(out) if r["evalset"] == "qa")
    code, out = llmctl(tmp_path, "runs", "show", qa, "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["evalset"] == "qa"
