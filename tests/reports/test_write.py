"""A report format is one writer plus one `register_report_format` call (issue 28): registered
here, in this test file alone, `llmctl eval --output` and `llmctl report -o` write it."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl import outputs
from llmctl.reports import ReportData, _write, register_report_format, render_report
from tests.cli.clirun import run as cli
from tests.gitrepo import git_env
from tests.labelled_project import make


def _lines(data: ReportData) -> str:
    """A throwaway format: one `case_id verdict` line a result."""
    return "".join(f"{o.case_id} {'pass' if o.passed else 'fail'}\n" for o in data.outcomes)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # the registries as they are, restored after the test
    monkeypatch.setattr(outputs, "FORMATS", outputs.FORMATS)
    monkeypatch.setattr(_write, "WRITERS", dict(_write.WRITERS))
    register_report_format(".lines", "one line a result", _lines, aliases=(".LN",))


def test_a_registered_report_format_is_written_by_eval_and_report(
    registered: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    git_env(monkeypatch)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    root = tmp_path / "proj"
    make(root)
    monkeypatch.chdir(root)
    code, _out, err = cli(["eval", "support", "--output", "out/eval.lines"], capsys, monkeypatch)
    assert code in (0, 1), err
    eval_lines = (root / "out" / "eval.lines").read_text(encoding="utf-8").splitlines()
    assert len(eval_lines) == 10 and all(line.split()[1] in ("pass", "fail") for line in eval_lines)
    code, out, err = cli(["report", "latest", "-o", "again.ln"], capsys, monkeypatch)
    assert code == 0, err
    assert sorted((root / "again.ln").read_text(encoding="utf-8").splitlines()) == sorted(eval_lines)
    assert "wrote again.ln" in out
    assert render_report("lines", ReportData(run={}, outcomes=[])) == ""


def test_an_extension_is_registered_once(registered: None) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_report_format(".md", "another Markdown", _lines)
    with pytest.raises(ValueError, match="already registered"):
        register_report_format(".other", "alias taken", _lines, aliases=(".lines",))


def test_an_unregistered_extension_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(outputs.InputError, match="unknown format"):
        outputs.check("r.lines", outputs.REPORT)
