"""``shared.ports.Claims`` and ``ProgressReports`` on the SQLite store's ``messages`` table.

Every write is one conditional statement (``UPDATE … WHERE status = …``, with ``RETURNING``
where the caller needs the row) in the group commit, so a claim is atomic across processes
sharing the file (SQLite's write lock) and a claim, final write or cancel racing in another
process is never overwritten: the next statement (or the final read) sees what it did.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from shared.adapters.history import SQLITE_STATUS_WRITE, progress_to_text, status_params
from shared.adapters.record_fields import error_to_text, from_epoch, to_epoch
from shared.adapters.sqlite.batches import claim_batch, finish_batch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.adapters.sqlite.rows import COLUMNS, STATUS_WRITE_NOW, row_to_record
from shared.domain.message import ErrorInfo, MessageRecord, Progress, Status, utcnow
from shared.ports import (
    Cancel,
    CancelOutcome,
    Claim,
    Claims,
    Finished,
    MessageRef,
    Outcome,
    ProgressReports,
    StoreRejected,
)


def _renew(
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


def _cancel(
    queue: str, message_id: str, now: float, expires_at: float | None, c: sqlite3.Connection
) -> Cancel:
    """PENDING → CANCELLED, or INPROGRESS → ``cancel_requested``; else FINAL or GONE."""
    key = (message_id, queue)
    transition = status_params(from_epoch(now), Status.CANCELLED, None)
    row = c.execute(
        "UPDATE messages SET status = 'CANCELLED', not_before = NULL, owner = NULL,"
        f" lease_until = NULL, updated_at = ?, expires_at = ?, {STATUS_WRITE_NOW}"
        f" WHERE id = ? AND queue = ? AND status = 'PENDING' RETURNING {COLUMNS}",
        (now, expires_at, *transition, *key),
    ).fetchone()
    if row is not None:
        return Cancel(CancelOutcome.CANCELLED, row_to_record(row))
    row = c.execute(
        "UPDATE messages SET cancel_requested = 1, updated_at = ?,"
        " version = COALESCE(version, 0) + 1"
        f" WHERE id = ? AND queue = ? AND status = 'INPROGRESS' RETURNING {COLUMNS}",
        (now, *key),
    ).fetchone()
    if row is not None:
        return Cancel(CancelOutcome.REQUESTED, row_to_record(row))
    row = c.execute(f"SELECT {COLUMNS} FROM messages WHERE id = ? AND queue = ?", key).fetchone()
    if row is None:
        return Cancel(CancelOutcome.GONE)
    return Cancel(CancelOutcome.FINAL, row_to_record(row))


class SqliteClaims(Claims, ProgressReports):
    """The ``Claims`` and ``ProgressReports`` part of ``SqliteStore`` (uses only its
    :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        (claim,) = await self.claim_many([MessageRef(queue, message_id)], owner, lease_until)
        return claim

    async def claim_many(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[Claim]:
        if not refs:
            return []
        batch = functools.partial(claim_batch, list(refs), owner, lease_until, utcnow())
        return await self._db.write(batch)

    async def renew(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[MessageRef]:
        if not refs:
            return []
        return await self._db.write(
            functools.partial(_renew, list(refs), owner, to_epoch(lease_until))
        )

    async def cancel(self, queue: str, message_id: str, expires_at: datetime | None) -> Cancel:
        expires = to_epoch(expires_at) if expires_at else None
        now = to_epoch(utcnow())
        return await self._db.write(functools.partial(_cancel, queue, message_id, now, expires))

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        return await self.finish_record(queue, message_id, owner, outcome) is not None

    async def finish_record(
        self, queue: str, message_id: str, owner: str, outcome: Outcome
    ) -> MessageRecord | None:
        item = (MessageRef(queue, message_id), outcome)
        (done,) = await self._db.write(functools.partial(finish_batch, [item], owner, utcnow()))
        return done.record

    async def finish_many(
        self, items: Sequence[tuple[MessageRef, Outcome]], owner: str
    ) -> list[Finished | StoreRejected]:
        """SQLite refuses no result (its length limit, a gigabyte, is far beyond a message's):
        never a StoreRejected. Each written record comes back from the write itself
        (``RETURNING``)."""
        if not items:
            return []
        batch = functools.partial(finish_batch, list(items), owner, utcnow())
        return list(await self._db.write(batch))

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, owner), message_id, queue, owner)
        cur = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                f" updated_at = ?, {STATUS_WRITE_NOW} WHERE id = ? AND queue = ? AND owner = ?"
                " AND status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount > 0

    async def schedule_retry(
        self, queue: str, message_id: str, owner: str, error: ErrorInfo, not_before: datetime
    ) -> bool:
        at = utcnow()
        params = (
            error_to_text(error),
            to_epoch(not_before),
            to_epoch(at),
            *status_params(at, Status.PENDING, owner),
        )
        cur = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', result = NULL, error = ?,"
                " not_before = ?, deliveries = 0, published = 0, owner = NULL,"
                f" lease_until = NULL, updated_at = ?, {STATUS_WRITE_NOW}"
                " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'",
                (*params, message_id, queue, owner),
            )
        )
        return cur.rowcount > 0

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, None), message_id, queue)
        row = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', attempts = 0, deliveries = 0,"
                " cancel_requested = NULL, result = NULL, error = NULL, not_before = NULL,"
                " published = 0, expires_at = NULL,"
                " owner = NULL, lease_until = NULL, progress = NULL, updated_at = ?,"
                f" {SQLITE_STATUS_WRITE.format(attempt='0')}"
                f" WHERE id = ? AND queue = ? AND status = 'ERROR' RETURNING {COLUMNS}",
                params,
            ).fetchone()
        )
        return row_to_record(row) if row else None

    async def record_progress(
        self, queue: str, message_id: str, owner: str, progress: Progress
    ) -> bool:
        params = (progress_to_text(progress), message_id, queue, owner)
        cur = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET progress = ?, version = COALESCE(version, 0) + 1"
                " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount > 0
