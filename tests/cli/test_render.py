"""`llmctl render`: messages as text or JSON, --var/--vars-file, typed inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.clirun import run

PROMPT = """\
model: echo
params: {temperature: 0}
inputs:
  ticket: {type: string}
  n: {type: integer, default: 1}
  flag: {type: boolean, default: false}
  labels: {type: array, default: [a]}
  code: {type: string, default: ""}
messages:
  - role: system
    content: n={{ n }} flag={{ flag }} labels={{ labels | join(',') }}
  - role: user
    content: "{{ ticket }}|{{ code }}"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "llmctl.yaml").write_text("default_models: [echo]\n")
    (tmp_path / "prompts/support").mkdir(parents=True)
    (tmp_path / "prompts/support/triage.yaml").write_text(PROMPT)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_render_text(project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(["render", "support/triage", "--var", "ticket=Help"], capsys, monkeypatch)
    assert (code, err) == (0, "")
    assert out == "[system]\nn=1 flag=False labels=a\n\n[user]\nHelp|\n"


def test_typed_vars_from_the_command_line(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["render", "support/triage", "-v", "ticket=007", "-v", "n=3", "-v", "flag=true", "-v", "labels=[x, y]"]
    argv += ["-v", "code=12"]  # a string input keeps the text as typed
    code, out, _ = run(argv, capsys, monkeypatch)
    assert code == 0
    assert out == "[system]\nn=3 flag=True labels=x,y\n\n[user]\n007|12\n"
    code, _, err = run(["render", "support/triage", "-v", "ticket=a", "-v", "n=many"], capsys, monkeypatch)
    assert code == 2
    assert err.startswith("error: prompts/support/triage.yaml:5: variable 'n' must be of type integer, got str")


def test_render_json_and_vars_file(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "vars.yaml").write_text("ticket: from file\nn: 5\n")
    code, out, _ = run(["render", "support/triage", "--vars-file", "vars.yaml", "--json"], capsys, monkeypatch)
    assert code == 0
    data = json.loads(out)
    assert data["prompt"] == "support/triage" and data["model"] == "echo"
    assert data["version"].startswith("sha256:") and data["params"] == {"temperature": 0}
    assert data["messages"][1] == {"role": "user", "content": "from file|"}
    assert data["messages"][0]["content"].startswith("n=5 ")


def test_variables_are_not_templates(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = "{{ ''.__class__.__mro__ }}{% include '/etc/passwd' %}"
    code, out, _ = run(["render", "support/triage", "--var", f"ticket={evil}"], capsys, monkeypatch)
    assert code == 0 and out.endswith(f"[user]\n{evil}|\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", "nosuch"], "error: unknown prompt 'nosuch'"),
        (["render", "support/triage"], "error: prompts/support/triage.yaml:4: missing required variable 'ticket'"),
        (["render", "support/triage", "--var", "oops"], "error: --var expects KEY=VALUE, got 'oops'"),
        (["render", "support/triage", "--vars-file", "nope.yaml"], "error: nope.yaml: file not found"),
    ],
)
def test_render_errors(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    code, out, err = run(argv, capsys, monkeypatch)
    assert code == 2 and out == ""
    assert err.startswith(message) and "Traceback" not in err
