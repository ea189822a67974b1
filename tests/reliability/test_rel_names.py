"""Names from files reach the terminal and reports as inert text (issue 10 item 7).

Evaluator `metric` names, model alias names, evalset and prompt names are
written by whoever writes the files (a pull request): OSC 52 clipboard writes,
OSC 8 links, `ESC[2J` and rich markup such as `[link=...]` must not reach the
terminal, and `#123`/`o/r#3`/`GH-2`/`@team` must not link or notify on GitHub.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmctl.store import Store
from tests.e2e.project import git, init_repo, llmctl, write

STORE = ".llmctl/llmctl.duckdb"
OSC52 = "\x1b]52;c;ZXZpbA==\x07"
OSC8 = "\x1b]8;;https://evil.example/\x07"
CLEAR = "\x1b[2J"
METRIC = f"m{OSC52}{CLEAR}[link=https://evil.example/]x[/link] fixes #123 o/r#3 GH-2 @org/team"
ALIAS = f"al{OSC8}ias[link=https://evil.example/]y[/link]"


def _hostile_project(root: Path) -> None:
    write(
        root,
        {
            "llmctl.yaml": {"store": STORE, "default_models": [ALIAS], "models": {ALIAS: {"model": "echo"}}},
            "prompts/p.yaml": "inputs: {q: {type: string}}\ntemplate: '{{ q }}'\n",
            "evalsets/e.yaml": {
                "prompt": "p",
                # two evaluators: each gets its own gate row (one evaluator's row would be the pass rate)
                "evaluators": [
                    {"type": "contains", "value": "yes", "metric": METRIC},
                    {"type": "contains", "value": "no"},
                ],
                "cases": [{"id": "c1", "vars": {"q": "yes"}}, {"id": "c2", "vars": {"q": "no"}}],
            },
        },
    )


def _assert_inert(text: str, *, styled: bool = False) -> None:
    """No hostile sequence (nor a fragment of one); `styled`: rich's own SGR colours are allowed."""
    bad = ["\x1b]", "\x07", "\x9b", "\x9d", "\x1b[2J", "52;c;", "]8;;", "8;;https"]
    if not styled:
        bad.append("\x1b")
    for seq in bad:
        assert seq not in text, (seq, text)


def test_hostile_names_never_drive_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmctl.cli import _common

    # A terminal: rich would turn `[link=...]` markup into an OSC 8 hyperlink there.
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setattr(_common, "_console", None)
    monkeypatch.setattr(_common, "_err_console", None)
    init_repo(tmp_path)
    _hostile_project(tmp_path)
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    write(tmp_path, {"prompts/p.yaml": "inputs: {q: {type: string}}\ntemplate: 'v2 {{ q }}'\n"})
    # with a baseline, the gate table lists one row per evaluator metric
    code, out = llmctl(tmp_path, "eval", "--baseline", "HEAD", "--output", "r.md", capsys=capsys)
    assert code in (0, 1), out
    assert "fixes #123" in out and "[link=https://evil.example/]" in out  # shown, as plain text
    assert out.count("fixes #123") >= 2, out  # the summary and the gate table
    _assert_inert(out, styled=True)
    run = Store(tmp_path / STORE).list_runs()[0].id
    for argv in (
        ["runs", "show", run],
        ["runs", "list"],
        ["report", run, "--output", "again.md"],
        ["diff", "HEAD", "WORKTREE"],
    ):
        code, shown = llmctl(tmp_path, *argv, capsys=capsys)
        assert code == 0, shown
        _assert_inert(shown, styled=True)
    for name in ("r.md", "again.md"):
        md = (tmp_path / name).read_text(encoding="utf-8")
        _assert_inert(md)
        plain = md.replace("\\", "")
        assert not re.search(r"(?<![&\w])#\d", plain), md  # no issue references (entities aside)
        assert not re.search(r"(?i)\bGH-\d", plain), md
        assert not re.search(r"@[A-Za-z]", plain), md


def test_error_messages_with_names_are_inert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An error that quotes a name from a file (here an unknown model alias) prints no escapes."""
    write(
        tmp_path,
        {
            "llmctl.yaml": {"store": STORE, "default_models": ["echo"]},
            "prompts/p.yaml": "inputs: {q: {type: string}}\ntemplate: '{{ q }}'\n",
            "evalsets/e.yaml": {"prompt": "p", "models": [f"nope{OSC52}"], "cases": [{"vars": {"q": "x"}}]},
        },
    )
    code, out = llmctl(tmp_path, "eval", capsys=capsys)
    assert code == 2, out
    assert "nope" in out
    assert "\x1b" not in out and "\x07" not in out, out  # quoted as `\x1b` text at most
