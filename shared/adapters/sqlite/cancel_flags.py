"""Cancellation in the SQLite store (``Claims.cancel`` and the flag ``renew`` reports).

Each function runs on the store's single database thread inside the store's write
transaction. Every statement is conditional on the status it changes, so a claim or a final
write racing with a cancel in another process is never overwritten: the next statement (or
the final read) sees what that process did.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from shared.adapters.history import SQLITE_STATUS_WRITE, status_params
from shared.adapters.record_fields import from_epoch
from shared.domain.message import Status
from shared.ports import Cancel, CancelOutcome, MessageRef

RowToRecord = Callable[[Sequence[Any]], Any]


def cancel(
    columns: str,
    to_record: RowToRecord,
    queue: str,
    message_id: str,
    now: float,
    expires_at: float | None,
    c: sqlite3.Connection,
) -> Cancel:
    """PENDING → CANCELLED, or INPROGRESS → ``cancel_requested``; else FINAL or GONE."""
    key = (message_id, queue)
    transition = status_params(from_epoch(now), Status.CANCELLED, None)
    row = c.execute(
        "UPDATE messages SET status = 'CANCELLED', not_before = NULL, owner = NULL,"
        " lease_until = NULL, updated_at = ?, expires_at = ?,"
        f" {SQLITE_STATUS_WRITE.format(attempt='attempts')}"
        f" WHERE id = ? AND queue = ? AND status = 'PENDING' RETURNING {columns}",
        (now, expires_at, *transition, *key),
    ).fetchone()
    if row is not None:
        return Cancel(CancelOutcome.CANCELLED, to_record(row))
    row = c.execute(
        "UPDATE messages SET cancel_requested = 1, updated_at = ?,"
        " version = COALESCE(version, 0) + 1"
        f" WHERE id = ? AND queue = ? AND status = 'INPROGRESS' RETURNING {columns}",
        (now, *key),
    ).fetchone()
    if row is not None:
        return Cancel(CancelOutcome.REQUESTED, to_record(row))
    row = c.execute(f"SELECT {columns} FROM messages WHERE id = ? AND queue = ?", key).fetchone()
    if row is None:
        return Cancel(CancelOutcome.GONE)
    return Cancel(CancelOutcome.FINAL, to_record(row))


def renew(
    refs: Sequence[MessageRef], owner: str, lease_until: float, c: sqlite3.Connection
) -> list[MessageRef]:
    """Extend the leases ``owner`` holds; the refs among them whose cancel was requested."""
    c.executemany(
        "UPDATE messages SET lease_until = ? WHERE id = ? AND owner = ? AND status = 'INPROGRESS'",
        [(lease_until, r.id, owner) for r in refs],
    )
    marks = ",".join("?" * len(refs))
    rows = c.execute(
        f"SELECT queue, id FROM messages WHERE id IN ({marks}) AND owner = ?"
        " AND status = 'INPROGRESS' AND cancel_requested = 1",
        (*(r.id for r in refs), owner),
    ).fetchall()
    return [MessageRef(q, i) for q, i in rows]
