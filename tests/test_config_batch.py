"""`batch:` on an alias or an evalset, and the alias's batch prices, as llmctl.yaml and evalsets are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.config import load_config
from llmctl.errors import InputError
from llmctl.evalset import load_evalset


def test_alias_batch_and_batch_prices_are_read(tmp_path: Path) -> None:
    (tmp_path / "llmctl.yaml").write_text(
        "models:\n  b:\n    model: openai/gpt-4o-mini\n    batch: true\n"
        "    price: {batch_input_per_1k: 0.1, batch_output_per_1k: 0.3}\n"
    )
    alias = load_config(tmp_path).models["b"]
    assert alias.batch is True
    assert (alias.batch_input_cost_per_1k, alias.batch_output_cost_per_1k) == (0.1, 0.3)
    assert alias.input_cost_per_1k is None  # only batch prices given: litellm still prices direct calls


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("models:\n  m:\n    model: anthropic/claude-3-5-haiku-latest\n    batch: true\n", "'anthropic' is not one", 4),
        ("models:\n  m:\n    model: echo\n    batch: true\n", "offline", 4),
        ("models:\n  m:\n    model: openai/x\n    batch: yes please\n", "'batch' must be true or false", 4),
        ("models:\n  m:\n    model: openai/x\n    price: {batch_input_per_1k: lots}\n", "must be a number", 4),
    ],
)
def test_alias_batch_errors_name_file_and_line(tmp_path: Path, text: str, message: str, line: int) -> None:
    (tmp_path / "llmctl.yaml").write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_config(tmp_path)
    assert info.value.line == line


def test_evalset_batch(tmp_path: Path) -> None:
    (tmp_path / "evalsets").mkdir()
    path = tmp_path / "evalsets" / "e.yaml"
    path.write_text("prompt: p\nbatch: true\ncases: [{id: a, vars: {}}]\n")
    assert load_evalset(path, tmp_path).batch is True
    path.write_text("prompt: p\nbatch: 1\ncases: [{id: a, vars: {}}]\n")
    with pytest.raises(InputError, match="'batch' must be true or false") as info:
        load_evalset(path, tmp_path)
    assert info.value.line == 2
