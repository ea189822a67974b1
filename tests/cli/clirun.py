"""Run the CLI in-process for tests: exit code, stdout, stderr."""

from __future__ import annotations

import pytest

from llmctl.cli import _common
from llmctl.cli.main import app


def run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setattr(_common, "DEBUG", False)
    code = _common.invoke(app, argv)
    out = capsys.readouterr()
    return code, out.out, out.err
