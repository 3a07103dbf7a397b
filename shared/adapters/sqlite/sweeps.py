"""``shared.ports.Recovery`` on the SQLite store's ``messages`` table.

Each decision over many rows is one ``UPDATE … RETURNING`` in the group commit, so a row
claimed or finished by another process meanwhile no longer matches and is left alone. The
scans page by ``(created_at, id)``, :data:`PAGE` rows a read.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from shared.adapters.history import status_params
from shared.adapters.record_fields import error_to_text, from_epoch, to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.adapters.sqlite.rows import STATUS_WRITE_NOW, fetchall
from shared.domain.message import ErrorInfo, Status, utcnow
from shared.ports import MessageRef, Recovery

PAGE = 500
#: A ``queued`` record of queue ``?``, marked published, due at ``?`` (``count_queued``).
QUEUED = (
    "queue = ? AND status = 'PENDING' AND published = 1 AND (not_before IS NULL OR not_before < ?)"
)


class SqliteSweeps(Recovery):
    """The ``Recovery`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def mark_published(self, refs: Sequence[MessageRef]) -> None:
        if refs:
            params = [(r.id,) for r in refs]
            await self._db.write(
                lambda c: c.executemany("UPDATE messages SET published = 1 WHERE id = ?", params)
            )

    async def _scan(self, where: str, params: tuple[Any, ...]) -> AsyncIterator[MessageRef]:
        after: tuple[float, str] = (float("-inf"), "")
        while True:
            sql = (
                f"SELECT queue, id, created_at FROM messages WHERE {where}"
                " AND (created_at > ? OR (created_at = ? AND id > ?))"
                f" ORDER BY created_at, id LIMIT {PAGE}"
            )
            rows = await self._db.run(
                functools.partial(fetchall, sql, (*params, after[0], after[0], after[1]))
            )
            for queue, message_id, _ in rows:
                yield MessageRef(queue, message_id)
            if len(rows) < PAGE:
                return
            after = (rows[-1][2], rows[-1][1])

    def unpublished(self, older_than: datetime) -> AsyncIterator[MessageRef]:
        return self._scan(
            "status = 'PENDING' AND published = 0 AND created_at < ?", (to_epoch(older_than),)
        )

    def pending(self) -> AsyncIterator[MessageRef]:
        return self._scan(
            "status = 'PENDING' AND (not_before IS NULL OR not_before <= ?)",
            (to_epoch(utcnow()),),
        )

    async def next_due(self) -> datetime | None:
        row = await self._db.run(
            lambda c: c.execute(
                "SELECT MIN(not_before) FROM messages"
                " WHERE status = 'PENDING' AND not_before IS NOT NULL"
            ).fetchone()
        )
        return from_epoch(row[0]) if row and row[0] is not None else None

    async def release_all_inprogress(self) -> int:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, None))
        cur = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                f" updated_at = ?, {STATUS_WRITE_NOW} WHERE status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount

    async def fail_abandoned(
        self, expired_before: datetime, min_attempts: int, error: ErrorInfo
    ) -> list[MessageRef]:
        at = utcnow()
        params = (
            error_to_text(error),
            to_epoch(at),
            *status_params(at, Status.ERROR, None),
            to_epoch(expired_before),
            min_attempts,
        )
        rows = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'ERROR', error = ?, updated_at = ?, owner = NULL,"
                f" lease_until = NULL, {STATUS_WRITE_NOW}"
                " WHERE status = 'INPROGRESS' AND lease_until < ?"
                " AND COALESCE(deliveries, attempts) >= ? AND COALESCE(cancel_requested, 0) = 0"
                " RETURNING queue, id",
                params,
            ).fetchall()
        )
        return [MessageRef(q, i) for q, i in rows]

    async def release_expired(self, expired_before: datetime) -> list[MessageRef]:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, None), to_epoch(expired_before))
        rows = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                f" published = 0, updated_at = ?, {STATUS_WRITE_NOW}"
                " WHERE status = 'INPROGRESS' AND lease_until < ?"
                " RETURNING queue, id",
                params,
            ).fetchall()
        )
        return [MessageRef(q, i) for q, i in rows]

    async def take_overdue(self, due_before: datetime) -> list[MessageRef]:
        params = (to_epoch(due_before),)
        rows = await self._db.write(
            lambda c: c.execute(
                "UPDATE messages SET not_before = NULL, published = 0"
                " WHERE status = 'PENDING' AND not_before < ? RETURNING queue, id",
                params,
            ).fetchall()
        )
        return [MessageRef(q, i) for q, i in rows]

    async def count_queued(self, queue: str) -> int:
        params = (queue, to_epoch(utcnow()))
        row = await self._db.run(
            lambda c: c.execute(f"SELECT COUNT(*) FROM messages WHERE {QUEUED}", params).fetchone()
        )
        return int(row[0]) if row else 0

    async def idle_queued(self, queue: str, idle_before: datetime, limit: int) -> list[MessageRef]:
        before = to_epoch(idle_before)
        params = (queue, before, before, limit)
        rows = await self._db.run(
            lambda c: c.execute(
                f"SELECT id FROM messages WHERE {QUEUED} AND updated_at < ?"
                " ORDER BY created_at, id LIMIT ?",
                params,
            ).fetchall()
        )
        return [MessageRef(queue, i) for (i,) in rows]

    async def delete_expired(self, now: datetime) -> int:
        cur = await self._db.write(
            lambda c: c.execute(
                "DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at < ?"
                " AND status IN ('COMPLETE', 'ERROR', 'CANCELLED')",
                (to_epoch(now),),
            )
        )
        return cur.rowcount
