"""``shared.ports.Audit`` on the SQLite store's ``audit`` table.

One row per entry, ``id`` the primary key; ``at`` is epoch seconds (as every time in this
store) and ``target`` JSON text (a message id, a bulk filter's object, or null). The index on
``(at, id)`` serves every-queue pages and the retention's delete; the one on
``(queue, at, id)`` a queue's pages. A record is one statement in the group commit; the
retention deletes :data:`TRIM_CHUNK` rows per statement, so other writes go between chunks
instead of waiting for one long delete.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Any

from shared.adapters.record_fields import from_epoch, to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.domain.audit_entry import AuditAction, AuditEntry
from shared.ports import Audit, ListCursor

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id      TEXT PRIMARY KEY,
    at      REAL NOT NULL,
    subject TEXT,
    action  TEXT NOT NULL,
    queue   TEXT NOT NULL,
    target  TEXT NOT NULL,
    count   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at, id);
CREATE INDEX IF NOT EXISTS audit_queue_at ON audit (queue, at, id);
"""
COLUMNS = "id, at, subject, action, queue, target, count"
#: Rows one retention statement deletes at most (the writer thread is shared with pushes).
TRIM_CHUNK = 1000


def _row(entry: AuditEntry) -> tuple[Any, ...]:
    target = json.dumps(entry.target, separators=(",", ":"))
    return (
        entry.id,
        to_epoch(entry.at),
        entry.subject,
        entry.action.value,
        entry.queue,
        target,
        entry.count,
    )


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    mid, at, subject, action, queue, target, count = row
    return AuditEntry(
        subject, AuditAction(action), queue, json.loads(target), count, from_epoch(at), mid
    )


def _select(
    queues: Collection[str] | None, limit: int, before: ListCursor | None, conn: sqlite3.Connection
) -> list[AuditEntry]:
    where: list[str] = []
    args: list[Any] = []
    if queues is not None:
        where.append(f"queue IN ({', '.join('?' * len(queues))})")
        args.extend(queues)
    if before is not None:
        at = to_epoch(before.created_at)
        where.append("(at < ? OR (at = ? AND id < ?))")
        args.extend((at, at, before.id))
    sql = f"SELECT {COLUMNS} FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY at DESC, id DESC LIMIT ?", (*args, limit)).fetchall()
    return [_entry(row) for row in rows]


def _delete_before(before: datetime, conn: sqlite3.Connection) -> int:
    """Delete up to :data:`TRIM_CHUNK` of the entries older than ``before``; how many."""
    return conn.execute(
        "DELETE FROM audit WHERE rowid IN (SELECT rowid FROM audit WHERE at < ? LIMIT ?)",
        (to_epoch(before), TRIM_CHUNK),
    ).rowcount


class SqliteAudit(Audit):
    """The ``Audit`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def record_audit(self, entry: AuditEntry) -> None:
        row = _row(entry)
        await self._db.write(
            lambda c: c.execute(f"INSERT INTO audit ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        )

    async def list_audit(
        self, queues: Collection[str] | None, limit: int, before: ListCursor | None
    ) -> list[AuditEntry]:
        if queues is not None and not queues:
            return []
        return await self._db.run(functools.partial(_select, queues, limit, before))

    async def delete_audit_older_than(self, before: datetime) -> int:
        deleted, chunk = 0, TRIM_CHUNK
        while chunk == TRIM_CHUNK:
            chunk = await self._db.write(functools.partial(_delete_before, before))
            deleted += chunk
        return deleted
