"""`llmctl init`: a starter project that lints clean, never an overwrite, a partial one filled in."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.cli import _common
from llmctl.cli.main import app


def run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setattr(_common, "DEBUG", False)
    code = _common.invoke(app, argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_then_lint_then_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    code, out, err = run(["init", "--no-lock"], capsys, monkeypatch)
    assert code == 0 and ("note:" in err or err == ""), err
    created = [line.removeprefix("created ") for line in out.splitlines() if line.startswith("created ")]
    assert "llmctl.yaml" in created
    assert all(Path(p).is_file() for p in created)
    assert any(p.startswith("prompts/") for p in created) and any(p.startswith("evalsets/") for p in created)

    code, out, err = run(["lint"], capsys, monkeypatch)
    assert code == 0, err

    before = {p: Path(p).read_bytes() for p in created}
    code, out, err = run(["init", "--no-lock"], capsys, monkeypatch)
    assert (code, err) == (0, "")
    assert "nothing to do" in out and "created" not in out
    assert {p: Path(p).read_bytes() for p in created} == before

    Path("evalsets/summarize.yaml").unlink()
    code, out, err = run(["init", "--no-lock"], capsys, monkeypatch)
    assert code == 0 and "created evalsets/summarize.yaml" in out and "kept    llmctl.yaml (exists)" in out
    assert {p: Path(p).read_bytes() for p in created} == before


def test_init_into_a_new_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(["init", "newproj", "--no-lock"], capsys, monkeypatch)
    assert code == 0 and (tmp_path / "newproj/llmctl.yaml").is_file()
