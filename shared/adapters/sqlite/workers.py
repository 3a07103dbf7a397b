"""``shared.ports.Workers`` on the SQLite store's ``workers`` table.

One row per worker id (the primary key); a beat is one ``INSERT … ON CONFLICT DO UPDATE``
in the store's group commit (see ``connection``), so it is atomic and costs one write.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from datetime import datetime

from shared.adapters.record_fields import from_epoch, to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.ports import WorkerInfo, Workers

SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    queues       TEXT NOT NULL,
    concurrency  INTEGER NOT NULL,
    in_flight    INTEGER NOT NULL,
    started_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
"""
_COLUMNS = "id, host, pid, version, queues, concurrency, in_flight, started_at, last_seen_at"


def _beat(info: WorkerInfo, conn: sqlite3.Connection) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO workers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            info.id,
            info.host,
            info.pid,
            info.version,
            json.dumps(list(info.queues)),
            info.concurrency,
            info.in_flight,
            to_epoch(info.started_at),
            to_epoch(info.last_seen_at),
        ),
    )


def _list(conn: sqlite3.Connection) -> list[WorkerInfo]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM workers ORDER BY id").fetchall()
    return [
        WorkerInfo(
            id=worker_id,
            host=host,
            pid=pid,
            version=version,
            queues=tuple(json.loads(queues)),
            concurrency=concurrency,
            in_flight=in_flight,
            started_at=from_epoch(started),
            last_seen_at=from_epoch(seen),
        )
        for worker_id, host, pid, version, queues, concurrency, in_flight, started, seen in rows
    ]


def _prune(older_than: datetime, conn: sqlite3.Connection) -> int:
    cur = conn.execute("DELETE FROM workers WHERE last_seen_at < ?", (to_epoch(older_than),))
    return cur.rowcount


class SqliteWorkers(Workers):
    """The ``Workers`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def beat(self, info: WorkerInfo) -> None:
        await self._db.write(functools.partial(_beat, info))

    async def list_workers(self) -> list[WorkerInfo]:
        return await self._db.run(_list)

    async def prune(self, older_than: datetime) -> int:
        return await self._db.write(functools.partial(_prune, older_than))
