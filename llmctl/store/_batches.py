"""The store's record of a run's provider batches (tables `batches` and `batch_requests`, migration 9).

Each function opens the store for one short transaction, like every Store method.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from llmctl.store._schema import transaction, utcnow

if TYPE_CHECKING:
    from llmctl.store._store import Store

_BATCH_FIELDS = (
    "run_id",
    "batch_id",
    "model",
    "purpose",
    "provider",
    "input_file_id",
    "output_file_id",
    "error_file_id",
    "requests",
    "status",
    "reason",
    "collected",
    "submitted_at",
    "updated_at",
)


def add_batch(store: Store, row: dict[str, object], custom_ids: Iterable[str]) -> None:
    """Record a submitted batch and its requests (state `pending`) in one transaction."""
    now = utcnow()
    values = {**row, "collected": False, "submitted_at": now, "updated_at": now}
    ids = list(custom_ids)

    def write(con: Any) -> None:
        cols = ", ".join(_BATCH_FIELDS)
        marks = ", ".join("?" for _ in _BATCH_FIELDS)
        con.execute(f"INSERT INTO batches ({cols}) VALUES ({marks})", [values.get(f) for f in _BATCH_FIELDS])  # noqa: S608
        if ids:
            con.executemany(
                "INSERT INTO batch_requests (run_id, batch_id, custom_id, state) VALUES (?, ?, ?, 'pending')",
                [[row["run_id"], row["batch_id"], cid] for cid in ids],
            )

    store._db.run(lambda con: transaction(con, lambda: write(con)))


def update_batch(store: Store, run_id: str, batch_id: str, **fields: object) -> None:
    """Set `status`, `reason`, file ids or `collected` of one batch."""
    allowed = {k: v for k, v in fields.items() if k in _BATCH_FIELDS and k not in ("run_id", "batch_id")}
    if not allowed:
        return
    sets = ", ".join(f"{k} = ?" for k in allowed)

    def tx(con: Any) -> None:
        con.execute(
            f"UPDATE batches SET {sets}, updated_at = ? WHERE run_id = ? AND batch_id = ?",  # noqa: S608
            [*allowed.values(), utcnow(), run_id, batch_id],
        )

    store._db.run(tx)


def set_request_states(store: Store, run_id: str, batch_id: str, states: dict[str, str]) -> None:
    """Mark requests of a batch `done` or `failed` (custom id -> state)."""
    if not states:
        return

    def write(con: Any) -> None:
        con.executemany(
            "UPDATE batch_requests SET state = ? WHERE run_id = ? AND batch_id = ? AND custom_id = ?",
            [[state, run_id, batch_id, cid] for cid, state in states.items()],
        )

    store._db.run(lambda con: transaction(con, lambda: write(con)))


def batches_of(store: Store, run_id: str, *, uncollected: bool = False) -> list[dict[str, object]]:
    """The batches of a run, oldest first (only those not collected yet with `uncollected`)."""
    where = "run_id = ?" + (" AND NOT collected" if uncollected else "")

    def q(con: Any) -> list[dict[str, Any]]:
        cur = con.execute(
            f"SELECT {', '.join(_BATCH_FIELDS)} FROM batches WHERE {where} ORDER BY submitted_at, batch_id",  # noqa: S608
            [run_id],
        )
        return [dict(zip(_BATCH_FIELDS, r, strict=True)) for r in cur.fetchall()]

    result: list[dict[str, Any]] = store._db.run(q, read_only=True)
    return result


def requests_of(store: Store, run_id: str, batch_id: str) -> dict[str, str]:
    """custom id -> state of one batch's requests."""

    def q(con: Any) -> dict[str, str]:
        rows = con.execute(
            "SELECT custom_id, state FROM batch_requests WHERE run_id = ? AND batch_id = ?", [run_id, batch_id]
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    result: dict[str, str] = store._db.run(q, read_only=True)
    return result
