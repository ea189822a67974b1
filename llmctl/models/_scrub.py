"""Scrubbing moved to llmctl.models._credentials (the one home of key handling); these names stay
importable from here for the modules that import them (the store writer, trace import)."""

from llmctl.models._credentials import (
    header_key,
    register_headers,
    register_secret,
    scrub,
    scrubber,
    secret_forms,
    secret_values,
)

__all__ = ["header_key", "register_headers", "register_secret", "scrub", "scrubber", "secret_forms", "secret_values"]
