"""The CLI's error surface: exit codes, one message with file:line, tracebacks only with --debug.

(`llmctl lint` through the CLI is tested here too: a `tests/cli/test_lint.py` would clash
with `tests/test_lint.py` under pytest's default import mode, as tests/ has no __init__.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmctl import __version__
from tests.cli.clirun import run

REPO = Path(__file__).resolve().parents[2]
LLMCTL = [sys.executable, "-m", "llmctl.cli.main"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "llmctl.yaml").write_text("default_models: [echo]\n")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "evalsets").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_version(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["--version"], capsys, monkeypatch)
    assert (code, out) == (0, f"llmctl {__version__}\n")


def test_bad_flag_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(["lint", "--no-such-flag"], capsys, monkeypatch)
    assert code == 2 and "no-such-flag" in err and "Traceback" not in err


def test_repo_example_suite_lints_clean(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "prompts")  # llmctl.yaml is found by walking up
    code, out, err = run(["lint"], capsys, monkeypatch)
    assert (code, err) == (0, "")
    assert out.startswith("ok: ") and "prompt(s)" in out


def test_lint_reports_every_problem(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "prompts/a.yaml").write_text("template: '{{ x }}'\n")
    (project / "prompts/b.yaml").write_text("template: hi\ncolour: red\n")
    code, out, err = run(["lint"], capsys, monkeypatch)
    assert code == 2 and out == ""
    assert err.startswith("error: prompts/a.yaml:1: variable 'x'")
    assert "\nprompts/b.yaml:2: unknown key 'colour'" in err
    assert "Traceback" not in err


def test_lint_named_evalsets_and_did_you_mean(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "prompts/p.yaml").write_text("template: hi\n")
    (project / "evalsets/extract.yaml").write_text("prompt: p\nmodels: [ech]\ncases: [{vars: {}}]\n")
    (project / "evalsets/other.yaml").write_text("prompt: p\ncases: [{vars: {}}]\n")
    code, out, err = run(["lint", "extrct"], capsys, monkeypatch)
    assert (code, out) == (2, "")
    assert err == "error: unknown evalset 'extrct'\n  hint: did you mean 'extract'? (known: extract, other)\n"
    code, out, err = run(["lint", "other"], capsys, monkeypatch)
    assert (code, out, err) == (0, "ok: 1 prompt(s), 1 evalset(s)\n", "")
    code, out, err = run(["lint", "extract", "--format", "json"], capsys, monkeypatch)
    assert code == 2 and '"file": "evalsets/extract.yaml"' in out and '"hint": "did you mean \'echo\'?"' in out


def test_config_found_from_a_sub_folder(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "prompts/p.yaml").write_text("template: from the root\n")
    (project / "deep/er").mkdir(parents=True)
    monkeypatch.chdir(project / "deep/er")
    code, out, _ = run(["render", "p"], capsys, monkeypatch)
    assert (code, out) == (0, "[user]\nfrom the root\n")


def _subprocess(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLMCTL_DEBUG": ""}
    return subprocess.run([*LLMCTL, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=60)


def test_debug_shows_traceback_and_plain_does_not(project: Path) -> None:
    (project / "prompts/p.yaml").write_text("inputs: {x: {type: string}}\ntemplate: '{{ x }}'\n")
    plain = _subprocess(["render", "p"], project)
    assert plain.returncode == 2
    assert plain.stderr.strip().splitlines()[0] == "error: prompts/p.yaml:1: missing required variable 'x'"
    assert "Traceback" not in plain.stderr
    debug = _subprocess(["--debug", "render", "p"], project)
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert "error: prompts/p.yaml:1: missing required variable 'x'" in debug.stderr


def test_end_to_end_render_and_lint_on_repo() -> None:
    lint = _subprocess(["lint"], REPO)
    assert lint.returncode == 0, lint.stderr
    render = _subprocess(["render", "summarize", "--var", "ticket=It broke", "--var", "tone=formal"], REPO)
    assert render.returncode == 0, render.stderr
    assert "in a formal tone" in render.stdout and "It broke" in render.stdout
