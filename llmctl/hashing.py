"""Canonical JSON and content hashes: the one form every identity in llmctl is computed from.

A leaf module (standard library only), so that prompts, evalsets, fingerprints,
the response cache and judge calibration all hash the same way without
importing each other. Hashes name their algorithm (`sha256:<hex>`), so a future
change of the canonical form is detectable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

ALGORITHM = "sha256"


def canonical_json(value: Any) -> str:
    """Canonical JSON: sorted keys, fixed separators, UTF-8 text (the hashed form)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(data: bytes | str) -> str:
    """The bare hex sha256 of bytes (text is encoded as UTF-8)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def digest_of(data: bytes | str) -> str:
    """`sha256:<hex>` of bytes (text is encoded as UTF-8)."""
    return f"{ALGORITHM}:{sha256_hex(data)}"


def content_hash(value: Any) -> str:
    """`sha256:<hex>` of the canonical JSON of `value`."""
    return digest_of(canonical_json(value))
