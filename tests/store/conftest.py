from __future__ import annotations

from pathlib import Path

import pytest

from llmctl.store import Store


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / ".llmctl" / "llmctl.duckdb"


@pytest.fixture
def store(store_path: Path) -> Store:
    return Store(store_path, lock_timeout=10)
