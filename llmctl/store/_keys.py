"""Identifiers: run ids and result keys."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from llmctl.hashing import sha256_hex


def new_run_id() -> str:
    """A short id that sorts by start time: `r20261125-055112-ab12cd` (UTC)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"r{stamp}-{secrets.token_hex(3)}"


def result_key(prompt: str, case_id: str, model: str, repeat_index: int = 0) -> str:
    """A stable key of (prompt, case, model, repeat): 16 hex digits of a sha256.

    Part of the store's format (`--resume` and merges match on it): never change it.
    """
    canonical = f"{prompt}\x1f{case_id}\x1f{model}\x1f{int(repeat_index)}"
    return sha256_hex(canonical)[:16]
