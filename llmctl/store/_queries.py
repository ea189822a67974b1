"""Read queries other modules need that the `Store` class does not have a method for: the store
package is the one place that speaks SQL (reports and the CLI call these, never `store.query`).

Each function takes a `Store` and returns plain Python values.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from llmctl.store._store import Store


def prompt_versions(store: Store, run_id: str) -> dict[str, list[str]]:
    """Each prompt of a run (sorted) with the version hashes its results were made with (sorted)."""
    rows = store.query(
        "SELECT prompt, list(DISTINCT version_hash ORDER BY version_hash) FROM results WHERE run_id = ? "
        "GROUP BY prompt ORDER BY prompt",
        [run_id],
    )
    return {str(p): [str(h) for h in cast("list[object]", hashes) if h] for p, hashes in rows}


def expected_values(store: Store, run_id: str) -> dict[str, object]:
    """Each case id of a run with its stored `expected` value (decoded JSON; the text as stored
    where it is not JSON; None where the case has none)."""
    out: dict[str, Any] = {}
    for case_id, expected in store.query(
        "SELECT case_id, any_value(expected)::VARCHAR FROM results WHERE run_id = ? GROUP BY case_id", [run_id]
    ):
        try:
            value = json.loads(str(expected)) if expected is not None else None
        except ValueError:
            value = expected
        out[str(case_id)] = value
    return out


def run_count(store: Store) -> int:
    """How many runs the store has (of every status)."""
    return int(cast(int, store.query("SELECT count(*) FROM runs")[0][0]))
