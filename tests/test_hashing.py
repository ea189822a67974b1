"""Canonical JSON and content hashes: one form, the algorithm named."""

from __future__ import annotations

import hashlib

from llmctl.hashing import canonical_json, content_hash, digest_of, sha256_hex


def test_canonical_form_is_sorted_compact_and_utf8() -> None:
    assert canonical_json({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_hashes_name_their_algorithm() -> None:
    expected = hashlib.sha256('{"a":"é"}'.encode()).hexdigest()
    assert content_hash({"a": "é"}) == f"sha256:{expected}"
    assert digest_of(b"x") == "sha256:" + hashlib.sha256(b"x").hexdigest()
    assert digest_of("é") == digest_of("é".encode())
    assert sha256_hex("x") == hashlib.sha256(b"x").hexdigest()
