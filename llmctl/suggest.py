""" "Did you mean ...?" for names a user misspells: keys, evaluator types, aliases, evalsets, variables."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like `word` (difflib's ratio >= 0.6), if any; case is ignored."""
    options = [c for c in choices if isinstance(c, str)]
    folded = {c.casefold(): c for c in options}
    matches = difflib.get_close_matches(str(word).casefold(), list(folded), n=1, cutoff=0.6)
    return folded[matches[0]] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint `did you mean 'x'?` for a misspelled `word`, or None when nothing is close."""
    match = closest(word, choices)
    return f"did you mean {match!r}?" if match is not None and match != word else None


def unknown_key(key: str, allowed: Iterable[str], where: str = "") -> tuple[str, str | None]:
    """The message and hint for an unknown `key` (`where`: e.g. `in case`), allowed keys listed."""
    names = sorted(allowed)
    suffix = f" {where}" if where else ""
    return f"unknown key {key!r}{suffix} (allowed: {', '.join(names)})", did_you_mean(key, names)
