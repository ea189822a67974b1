"""Keep API keys out of every message: replace known secret values with ***."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from llmctl.models._resolve import PROVIDER_KEY_ENV

_SECRET_NAME = re.compile(r"(API_KEY|API_TOKEN|_TOKEN|_SECRET|SECRET_KEY|ACCESS_KEY|_KEY)$")
_KNOWN = {name for names in PROVIDER_KEY_ENV.values() for name in names}
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]{6,}")
_SK = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")


def secret_values(extra_env: Iterable[str] = (), extra_values: Iterable[str] = ()) -> list[str]:
    """Values of known key variables (provider keys, `extra_env`, any *_API_KEY/*_TOKEN...)."""
    names = set(_KNOWN)
    names.update(extra_env)
    values = {os.environ.get(n, "") for n in names}
    values.update(v for k, v in os.environ.items() if _SECRET_NAME.search(k))
    values.update(extra_values)
    return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)


def scrub(text: str, extra_env: Iterable[str] = (), extra_values: Iterable[str] = ()) -> str:
    """`text` with every secret value, bearer token and sk-... key replaced by ***."""
    for value in secret_values(extra_env, extra_values):
        if value in text:
            text = text.replace(value, "***")
    text = _BEARER.sub(r"\1***", text)
    return _SK.sub("sk-***", text)
