"""``shared.ports.QueuePauses`` on the SQLite store: a ``pauses`` table, and parking in the
``messages`` table (a parked record's ``not_before`` is ``PARKED_UNTIL``, found through the
``messages_due`` index). Each write is one statement in the store's group commit."""

from __future__ import annotations

import functools
import sqlite3
from datetime import datetime

from shared.adapters.record_fields import from_epoch, to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.domain.message import PARKED_UNTIL, utcnow
from shared.domain.pause import PauseState
from shared.ports import MessageRef
from shared.ports.operations import QueuePauses

SCHEMA = """
CREATE TABLE IF NOT EXISTS pauses (
    queue     TEXT PRIMARY KEY,
    paused_at REAL NOT NULL,
    paused_by TEXT
);
"""
PARKED = to_epoch(PARKED_UNTIL)


def _pause(state: PauseState, conn: sqlite3.Connection) -> PauseState:
    conn.execute(
        "INSERT INTO pauses (queue, paused_at, paused_by) VALUES (?, ?, ?)"
        " ON CONFLICT (queue) DO NOTHING",
        (state.queue, to_epoch(state.paused_at), state.paused_by),
    )
    row = conn.execute(
        "SELECT paused_at, paused_by FROM pauses WHERE queue = ?", (state.queue,)
    ).fetchone()
    return PauseState(state.queue, from_epoch(row[0]), row[1])


def _park(queue: str, message_id: str, now: datetime, conn: sqlite3.Connection) -> bool:
    cur = conn.execute(
        "UPDATE messages SET not_before = ?, version = COALESCE(version, 0) + 1, updated_at = ?"
        " WHERE id = ? AND queue = ? AND status = 'PENDING'"
        " AND (not_before IS NULL OR not_before <= ?)",
        (PARKED, to_epoch(now), message_id, queue, to_epoch(now)),
    )
    return cur.rowcount > 0


def _unpark(queue: str, message_id: str | None, conn: sqlite3.Connection) -> list[MessageRef]:
    sql = (
        "UPDATE messages SET not_before = NULL, published = 0, version = COALESCE(version, 0) + 1,"
        " updated_at = ? WHERE queue = ? AND status = 'PENDING' AND not_before >= ?"
    )
    params: tuple[object, ...] = (to_epoch(utcnow()), queue, PARKED)
    if message_id is not None:
        sql += " AND id = ?"
        params = (*params, message_id)
    rows = conn.execute(sql + " RETURNING id", params).fetchall()
    return [MessageRef(queue, i) for (i,) in rows]


class SqlitePauses(QueuePauses):
    """The ``QueuePauses`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def pause_queue(self, state: PauseState) -> PauseState:
        return await self._db.write(functools.partial(_pause, state))

    async def resume_queue(self, queue: str) -> bool:
        deleted = await self._db.write(
            lambda c: c.execute("DELETE FROM pauses WHERE queue = ?", (queue,)).rowcount
        )
        return bool(deleted)

    async def paused_queues(self) -> list[PauseState]:
        rows = await self._db.run(
            lambda c: c.execute("SELECT queue, paused_at, paused_by FROM pauses").fetchall()
        )
        return [PauseState(q, from_epoch(at), by) for q, at, by in rows]

    async def park(self, queue: str, message_id: str, now: datetime) -> bool:
        return await self._db.write(functools.partial(_park, queue, message_id, now))

    async def unpark(self, queue: str, message_id: str | None = None) -> list[MessageRef]:
        return await self._db.write(functools.partial(_unpark, queue, message_id))
