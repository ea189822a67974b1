"""Terminal width: COLUMNS is honoured, and output to a log or pipe is not hard-wrapped."""

from __future__ import annotations

import pytest

from llmctl.cli._common import _width


def test_columns_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "77")
    assert _width(True) == 77 and _width(False) == 77


def test_pipes_are_not_wrapped_and_terminals_use_their_width(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("", "0", "wide", "-3"):
        monkeypatch.setenv("COLUMNS", bad)
        assert _width(False) == 1000
        assert _width(True) is None
    monkeypatch.delenv("COLUMNS")
    assert _width(False) == 1000
