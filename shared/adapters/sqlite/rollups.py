"""``shared.ports.Rollups`` on the SQLite store's ``rollups`` and ``rollup_buckets`` tables.

``rollups`` has one row per (queue, minute) with the outcome counters; ``rollup_buckets``
one row per (queue, minute, bucket) with that bucket's run count. Minutes are epoch
seconds (whole minutes). An add is one write in the store's group commit (its own
savepoint): every row's ``INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x``, all or
nothing, so adds from several processes sum exactly.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from shared.adapters.record_fields import from_epoch, to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.domain.run_stats import COUNTERS, Rollup
from shared.ports import Rollups

SCHEMA = """
CREATE TABLE IF NOT EXISTS rollups (
    queue     TEXT NOT NULL,
    minute    INTEGER NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    retried   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, minute)
);
CREATE INDEX IF NOT EXISTS rollups_minute ON rollups (minute);
CREATE TABLE IF NOT EXISTS rollup_buckets (
    queue  TEXT NOT NULL,
    minute INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    runs   INTEGER NOT NULL,
    PRIMARY KEY (queue, minute, bucket)
);
CREATE INDEX IF NOT EXISTS rollup_buckets_minute ON rollup_buckets (minute);
"""

_COLUMNS = ", ".join(COUNTERS)
_ADD_COUNTS = (
    f"INSERT INTO rollups (queue, minute, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (queue, minute) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in COUNTERS)
)
_ADD_BUCKET = (
    "INSERT INTO rollup_buckets (queue, minute, bucket, runs) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (queue, minute, bucket) DO UPDATE SET runs = runs + excluded.runs"
)


def _minute(moment: datetime) -> int:
    return int(to_epoch(moment)) // 60 * 60


def _add(rows: Sequence[Rollup], conn: sqlite3.Connection) -> None:
    """Increment (or create) each row and its buckets."""
    conn.executemany(
        _ADD_COUNTS,
        [(r.queue, _minute(r.minute), *r.counts().values()) for r in rows],
    )
    conn.executemany(
        _ADD_BUCKET,
        [(r.queue, _minute(r.minute), b, n) for r in rows for b, n in r.buckets.items()],
    )


def _read(queue: str, since: datetime, conn: sqlite3.Connection) -> list[Rollup]:
    """``queue``'s rows from ``since``'s minute on, oldest first, with their buckets."""
    start = _minute(since)
    found = {
        minute: Rollup(queue, from_epoch(minute), *counts)
        for minute, *counts in conn.execute(
            f"SELECT minute, {_COLUMNS} FROM rollups WHERE queue = ? AND minute >= ?"
            " ORDER BY minute",
            (queue, start),
        )
    }
    for minute, bucket, runs in conn.execute(
        "SELECT minute, bucket, runs FROM rollup_buckets WHERE queue = ? AND minute >= ?",
        (queue, start),
    ):
        row = found.get(minute)
        if row is not None:
            row.buckets[bucket] = runs
    return list(found.values())


def _prune(before: datetime, conn: sqlite3.Connection) -> int:
    """Delete the rows (and buckets) of minutes before ``before``; how many rows."""
    cutoff = to_epoch(before)
    conn.execute("DELETE FROM rollup_buckets WHERE minute < ?", (cutoff,))
    return conn.execute("DELETE FROM rollups WHERE minute < ?", (cutoff,)).rowcount


class SqliteRollups(Rollups):
    """The ``Rollups`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def add_rollups(self, rows: Sequence[Rollup]) -> None:
        if rows:
            await self._db.write(functools.partial(_add, list(rows)))

    async def read_rollups(self, queue: str, since: datetime) -> list[Rollup]:
        return await self._db.run(functools.partial(_read, queue, since))

    async def prune_rollups(self, before: datetime) -> int:
        return await self._db.write(functools.partial(_prune, before))
