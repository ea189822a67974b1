"""llmctl.yaml: found by walking up, validated with file and line, LLMCTL_DB override."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.config import DEFAULT_STORE, find_config, load_config
from llmctl.errors import InputError

FULL = """\
store: data/store.duckdb
concurrency: 4
timeout: 30
retries: 2
default_models: echo
models:
  fast: openai/gpt-4o-mini
  local:
    model: hosted_vllm/llama
    api_base: http://localhost:8000/v1
    price: {input_per_1k: 0.5, output_per_1k: 1}
    max_concurrency: 8
judge: {model: fast}
gate:
  confidence: 0.9
  quality: {min_pass_rate: 0.8, max_drop: 0.1}
  cost: {max_increase: null}
"""


def test_found_by_walking_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "llmctl.yaml").write_text(FULL)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    monkeypatch.chdir(sub)
    assert find_config() == (tmp_path / "llmctl.yaml").resolve()
    cfg = load_config()
    assert cfg.root == tmp_path.resolve()
    assert cfg.store_path == tmp_path.resolve() / "data/store.duckdb"
    assert (cfg.concurrency, cfg.timeout, cfg.retries, cfg.default_models) == (4, 30.0, 2, ["echo"])
    assert cfg.models["fast"].model == "openai/gpt-4o-mini"
    local = cfg.models["local"]
    assert (local.api_base, local.input_cost_per_1k, local.output_cost_per_1k, local.max_concurrency) == (
        "http://localhost:8000/v1",
        0.5,
        1.0,
        8,
    )
    assert cfg.judge_model == "fast"
    assert (cfg.gate.confidence, cfg.gate.min_pass_rate, cfg.gate.max_drop, cfg.gate.cost_max_increase) == (
        0.9,
        0.8,
        0.1,
        None,
    )


def test_llmctl_db_overrides_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "llmctl.yaml").write_text(FULL)
    monkeypatch.setenv("LLMCTL_DB", str(tmp_path / "elsewhere.duckdb"))
    assert load_config(tmp_path).store_path == tmp_path / "elsewhere.duckdb"
    monkeypatch.setenv("LLMCTL_DB", "rel.duckdb")
    assert load_config(tmp_path).store_path == tmp_path.resolve() / "rel.duckdb"


def test_defaults_without_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCTL_DB", raising=False)
    cfg = load_config(tmp_path)
    assert cfg.path is None and cfg.root == tmp_path.resolve()
    assert cfg.store_path == tmp_path.resolve() / DEFAULT_STORE
    (tmp_path / "llmctl.yaml").write_text("")
    assert load_config(tmp_path).path is not None


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("concurency: 4\n", "unknown key 'concurency'", 1),
        ("concurrency: 2.5\n", "must be a whole number", 1),
        ("timeout: soon\n", "'timeout' must be a number", 1),
        ("default_models: [1, 2]\n", "'default_models' must be a list", 1),
        ("models: [a, b]\n", "'models' must be a mapping", 1),
        ("models:\n  m: 3\n", "must be a litellm id or a mapping", 2),
        ("models:\n  m: {api_base: x}\n", "needs a 'model:'", 2),
        ("models:\n  m: {model: x, colour: red}\n", "unknown key 'colour' in model 'm'", 2),
        ("models:\n  m:\n    model: x\n    price: [1]\n", "'price' must be a mapping", 4),
        ("models:\n  m:\n    model: x\n    price: {input_per_1k: free}\n", "'input_per_1k' must be a number", 4),
        ("models:\n  m:\n    model: x\n    price: {per_token: 1}\n", "unknown key 'per_token'", 4),
        ("models:\n  m:\n    model: x\n    responses: [a]\n", "'responses' must be a mapping", 4),
        ("gate: 3\n", "'gate' must be a mapping", 1),
        ("gate:\n  quality: 0.9\n", "gate.quality must be a mapping", 2),
        ("gate:\n  quality: {max_drop: lots}\n", "gate.quality.max_drop must be a number", 2),
        ("gate:\n  confidence: 95\n", "between 0 and 1", 2),
        ("gate:\n  speed: {}\n", "unknown key 'speed' in gate", 2),
        ("- a\n", "must be a mapping", 1),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str, line: int) -> None:
    (tmp_path / "llmctl.yaml").write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_config(tmp_path)
    assert info.value.file is not None and info.value.file.endswith("llmctl.yaml")
    assert info.value.line == line


def test_cache_key_is_refused_not_silently_ignored(tmp_path: Path) -> None:
    """`cache:` was accepted and never read (issue 14): an unknown key now, with what to do instead."""
    (tmp_path / "llmctl.yaml").write_text("default_models: [echo]\ncache: {enabled: false}\n")
    with pytest.raises(InputError, match=r"unknown key 'cache' in llmctl\.yaml") as info:
        load_config(tmp_path)
    assert info.value.line == 2 and "--no-cache" in (info.value.hint or "")
    (tmp_path / "llmctl.yaml").write_text("default_models: [echo]\nretires: 3\n")
    with pytest.raises(InputError, match="unknown key 'retires'") as info:
        load_config(tmp_path)
    assert "retries" in (info.value.hint or "")  # did you mean, like any unknown key
    from llmctl.schema import CONFIG_SCHEMA

    assert "cache" not in CONFIG_SCHEMA["properties"]  # `llmctl schema` no longer offers it
