"""The ``idempotency`` table of the SQLite store (see :mod:`shared.domain.idempotency`).

``(scope, key)`` is the primary key, so a second reservation of a live key cannot insert
(``INSERT OR IGNORE``). Expired rows are purged lazily: every reservation first deletes all
rows past ``expires_at`` (an index makes that a range scan of the expired rows only).
These functions run on the store's single database thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from shared.adapters.record_fields import from_epoch, to_epoch
from shared.domain.idempotency import IdempotencyEntry, KeyState
from shared.domain.message import utcnow

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


def reserve(entry: IdempotencyEntry, conn: sqlite3.Connection) -> IdempotencyEntry | None:
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
    # Runs inside the store's write transaction (sqlite_batch): atomic with the others.
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


def finish(scope: str, key: str, message_id: str, conn: sqlite3.Connection) -> bool:
    """Mark the key DONE if it is still bound to ``message_id``."""
    cur = conn.execute(
        "UPDATE idempotency SET state = ? WHERE scope = ? AND key = ? AND message_id = ?",
        (KeyState.DONE.value, scope, key, message_id),
    )
    return cur.rowcount > 0


def release(scope: str, key: str, message_id: str, conn: sqlite3.Connection) -> bool:
    """Delete the key if it is still bound to ``message_id``."""
    cur = conn.execute(
        "DELETE FROM idempotency WHERE scope = ? AND key = ? AND message_id = ?",
        (scope, key, message_id),
    )
    return cur.rowcount > 0
