"""``shared.ports.ScheduleStates`` on the SQLite store's ``schedules`` table.

``(queue, name)`` is the primary key. Each write is one statement in the store's group
commit (see ``connection``), so each is atomic.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from shared.adapters.record_fields import from_epoch, to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.ports import ScheduleState, ScheduleStates

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    queue           TEXT NOT NULL,
    name            TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    last_tick       REAL NOT NULL,
    last_message_id TEXT,
    PRIMARY KEY (queue, name)
);
"""


def _states(conn: sqlite3.Connection) -> list[ScheduleState]:
    """Every row."""
    rows = conn.execute(
        "SELECT queue, name, fingerprint, last_tick, last_message_id FROM schedules"
    ).fetchall()
    return [ScheduleState(q, n, f, from_epoch(t), m) for q, n, f, t, m in rows]


def _anchor(state: ScheduleState, conn: sqlite3.Connection) -> bool:
    """Insert, or replace a row with another fingerprint; True if written."""
    cur = conn.execute(
        "INSERT INTO schedules (queue, name, fingerprint, last_tick, last_message_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (queue, name) DO UPDATE SET"
        " fingerprint = excluded.fingerprint, last_tick = excluded.last_tick"
        " WHERE schedules.fingerprint != excluded.fingerprint",
        (
            state.queue,
            state.name,
            state.fingerprint,
            to_epoch(state.last_tick),
            state.last_message_id,
        ),
    )
    return cur.rowcount > 0


def _advance(
    queue: str,
    name: str,
    fingerprint: str,
    tick: datetime,
    message_id: str,
    conn: sqlite3.Connection,
) -> bool:
    """Move ``last_tick`` forward to ``tick``; True if it moved."""
    cur = conn.execute(
        "UPDATE schedules SET last_tick = ?, last_message_id = ?"
        " WHERE queue = ? AND name = ? AND fingerprint = ? AND last_tick < ?",
        (to_epoch(tick), message_id, queue, name, fingerprint, to_epoch(tick)),
    )
    return cur.rowcount > 0


def _forget(queue: str, names: Sequence[str], conn: sqlite3.Connection) -> int:
    """Delete ``queue``'s rows named ``names``; how many."""
    cur = conn.executemany(
        "DELETE FROM schedules WHERE queue = ? AND name = ?", [(queue, n) for n in names]
    )
    return cur.rowcount


class SqliteTicks(ScheduleStates):
    """The ``ScheduleStates`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def schedule_states(self) -> list[ScheduleState]:
        return await self._db.run(_states)

    async def anchor_schedule(self, state: ScheduleState) -> bool:
        return await self._db.write(functools.partial(_anchor, state))

    async def advance_schedule(
        self, queue: str, name: str, fingerprint: str, tick: datetime, message_id: str
    ) -> bool:
        return await self._db.write(
            functools.partial(_advance, queue, name, fingerprint, tick, message_id)
        )

    async def forget_schedules(self, queue: str, names: Sequence[str]) -> int:
        return await self._db.write(functools.partial(_forget, queue, names))
