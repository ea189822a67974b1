"""`llmctl eval` progress: counters per evalset and side, an ETA, no line printed twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmctl.cli.eval_cmd import _eta, _ProgressView
from llmctl.run import Progress
from tests.e2e.project import config, evalset, llmctl, prompt, write


def test_eta_from_the_rate_so_far() -> None:
    p = Progress(total=100, done=25, started=0.0)
    assert _eta(p, 10.0) == "0:30"  # 25 in 10 s: 75 more take 30 s
    assert _eta(Progress(total=100, done=0, started=0.0), 10.0) == "-"
    assert _eta(Progress(total=10, done=10, started=0.0), 3.0) == "0:00"
    assert _eta(Progress(total=10_000, done=1, started=0.0), 1.0) == "2:46:39"


def test_plain_lines_never_repeat(capsys: pytest.CaptureFixture[str]) -> None:
    view = _ProgressView()
    view.tty = False
    p = Progress(total=3, done=3, phase="qa (candidate)")
    view(p)
    view(p)  # a late update after the last case
    p.retries += 1
    view(p)
    err = capsys.readouterr().err
    assert err.count("[qa (candidate)] 3/3 done") == 1, err
    assert "failed cases" in err and "ETA 0:00" in err


def test_counters_are_per_evalset_and_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        tmp_path,
        {
            "llmctl.yaml": config(None),
            "prompts/qa.yaml": prompt("Answer."),
            "prompts/qb.yaml": prompt("Answer too."),
            "evalsets/qa.yaml": evalset("qa", 3, expected="question", models=["echo"]),
            "evalsets/qb.yaml": evalset("qb", 5, expected="question", models=["echo"]),
        },
    )
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 0, out
    assert "[qa (candidate)] 3/3 done" in out and "[qb (candidate)] 5/5 done" in out, out
    assert not re.search(r"\] \d+/8 done", out), out  # not one counter over both evalsets
