"""`render NAME` for a prompt whose `name:` differs from its path (issue 22, contract corner 14):
the name resolves, and the hint after a miss lists only names that resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.clirun import run

PROMPT = "name: {name}\nmodel: echo\nmessages:\n  - role: user\n    content: hi from {name}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "llmctl.yaml").write_text("default_models: [echo]\n")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts/old_path.yaml").write_text(PROMPT.format(name="renamed"))
    (tmp_path / "prompts/plain.yaml").write_text(PROMPT.format(name="plain"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_name_resolves_and_the_hint_lists_only_names_that_do(project: Path, capsys, monkeypatch) -> None:
    code, out, err = run(["render", "renamed"], capsys, monkeypatch)
    assert code == 0 and "hi from renamed" in out, err
    code, _out, err = run(["render", "nope"], capsys, monkeypatch)
    assert code == 2
    listed = re.search(r"known prompts: ([^)\n]*)", err).group(1)
    names = [n.strip() for n in listed.split(",")]
    assert names == ["plain", "renamed"], err
    for name in names:  # every name the hint offers works
        assert run(["render", name], capsys, monkeypatch)[0] == 0, name
    # the path name is not the prompt's name: it fails, and is not offered
    code, _out, err = run(["render", "old_path"], capsys, monkeypatch)
    assert code == 2 and "old_path" not in err.split("hint:", 1)[-1].split("known prompts:", 1)[-1]
