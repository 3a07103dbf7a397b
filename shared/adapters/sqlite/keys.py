"""``shared.ports.Keys`` on the SQLite store's ``idempotency`` table (see
:mod:`shared.domain.idempotency`).

``(scope, key)`` is the primary key, so a second reservation of a live key cannot insert
(``INSERT OR IGNORE``). Expired rows are purged lazily: every reservation first deletes all
rows past ``expires_at`` (an index makes that a range scan of the expired rows only).
The statements run on the store's database thread, each key operation one write in the
group commit (see ``connection``), atomic with the others.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

from shared.adapters.record_fields import from_epoch, to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.domain.idempotency import IdempotencyEntry, KeyState
from shared.domain.message import utcnow
from shared.ports import Keys

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_expires ON idempotency (expires_at);
"""

COLUMNS = "scope, key, body_hash, message_id, state, created_at, expires_at"


def _entry(row: Sequence[Any]) -> IdempotencyEntry:
    return IdempotencyEntry(
        scope=row[0],
        key=row[1],
        body_hash=row[2],
        message_id=row[3],
        state=KeyState(row[4]),
        created_at=from_epoch(row[5]),
        expires_at=from_epoch(row[6]),
    )


def _reserve(entry: IdempotencyEntry, conn: sqlite3.Connection) -> IdempotencyEntry | None:
    """None if ``entry`` now holds its key, else the live entry holding it."""
    row = (
        entry.scope,
        entry.key,
        entry.body_hash,
        entry.message_id,
        KeyState.RESERVED.value,
        to_epoch(entry.created_at),
        to_epoch(entry.expires_at),
    )
    # Runs inside the store's write transaction (group_commit): atomic with the others.
    conn.execute("DELETE FROM idempotency WHERE expires_at <= ?", (to_epoch(utcnow()),))
    cur = conn.execute(
        f"INSERT OR IGNORE INTO idempotency ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row
    )
    held = None
    if cur.rowcount == 0:
        held = conn.execute(
            f"SELECT {COLUMNS} FROM idempotency WHERE scope = ? AND key = ?",
            (entry.scope, entry.key),
        ).fetchone()
    return _entry(held) if held else None


def _finish(scope: str, key: str, message_id: str, conn: sqlite3.Connection) -> bool:
    """Mark the key DONE if it is still bound to ``message_id``."""
    cur = conn.execute(
        "UPDATE idempotency SET state = ? WHERE scope = ? AND key = ? AND message_id = ?",
        (KeyState.DONE.value, scope, key, message_id),
    )
    return cur.rowcount > 0


def _release(scope: str, key: str, message_id: str, conn: sqlite3.Connection) -> bool:
    """Delete the key if it is still bound to ``message_id``."""
    cur = conn.execute(
        "DELETE FROM idempotency WHERE scope = ? AND key = ? AND message_id = ?",
        (scope, key, message_id),
    )
    return cur.rowcount > 0


class SqliteKeys(Keys):
    """The ``Keys`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def reserve_key(self, entry: IdempotencyEntry) -> IdempotencyEntry | None:
        return await self._db.write(functools.partial(_reserve, entry))

    async def finish_key(self, scope: str, key: str, message_id: str) -> bool:
        return await self._db.write(functools.partial(_finish, scope, key, message_id))

    async def release_key(self, scope: str, key: str, message_id: str) -> bool:
        return await self._db.write(functools.partial(_release, scope, key, message_id))
