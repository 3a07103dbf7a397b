"""``shared.ports.Records`` on the SQLite store's ``messages`` table.

Inserts are writes in the group commit (one savepoint each: a batch is all rows or none);
reads run directly on the database thread (see ``connection``).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from shared.adapters.record_fields import (
    counts_from_groups,
    final_statuses,
    finished_from_groups,
    from_epoch,
    to_epoch,
)
from shared.adapters.sqlite.connection import SqliteConnection
from shared.adapters.sqlite.rows import COLUMNS, INSERT_SQL, fetchall, insert_row, row_to_record
from shared.adapters.sqlite.search import match_sql
from shared.domain.message import MessageRecord, Status
from shared.ports import FieldMatch, ListCursor, QueueCounts, RecordExists, Records


class SqliteRecords(Records):
    """The ``Records`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def insert(self, record: MessageRecord) -> None:
        row = insert_row(record)

        def insert(c: sqlite3.Connection) -> bool:
            try:
                c.execute(INSERT_SQL, row)
            except sqlite3.IntegrityError as exc:  # the statement wrote nothing
                if "UNIQUE" not in str(exc):
                    raise
                return False  # the id exists
            return True

        if not await self._db.write(insert):
            raise RecordExists(f"message {record.id} exists")

    async def insert_many(self, records: Sequence[MessageRecord]) -> list[str]:
        rows = [insert_row(record) for record in records]

        def insert_all(c: sqlite3.Connection) -> None:
            c.executemany(INSERT_SQL, rows)  # one savepoint: all rows or none

        if rows:
            await self._db.write(insert_all)
        return []

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        row = await self._db.run(
            lambda c: c.execute(
                f"SELECT {COLUMNS} FROM messages WHERE id = ? AND queue = ?", (message_id, queue)
            ).fetchone()
        )
        return row_to_record(row) if row else None

    async def delete(self, queue: str, message_id: str) -> bool:
        cur = await self._db.write(
            lambda c: c.execute(
                "DELETE FROM messages WHERE id = ? AND queue = ?", (message_id, queue)
            )
        )
        return cur.rowcount > 0

    async def list_records(
        self,
        queue: str,
        status: Status | None,
        limit: int,
        before: ListCursor | None,
        where: Sequence[FieldMatch] = (),
    ) -> list[MessageRecord]:
        cond, params = match_sql(queue, status, where, before)
        sql = (
            f"SELECT {COLUMNS} FROM messages WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        rows = await self._db.run(functools.partial(fetchall, sql, (*params, limit)))
        return [row_to_record(row) for row in rows]

    async def counts(self) -> dict[str, QueueCounts]:
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT queue, status, COUNT(*), MIN(created_at) FROM messages"
                " GROUP BY queue, status"
            ).fetchall()
        )
        return counts_from_groups((q, s, n, from_epoch(t)) for q, s, n, t in rows)

    async def finished_since(self, since: datetime) -> dict[str, dict[Status, int]]:
        finals = final_statuses()
        marks = ", ".join("?" for _ in finals)
        rows = await self._db.run(
            lambda c: c.execute(
                "SELECT queue, status, COUNT(*) FROM messages"
                f" WHERE status IN ({marks}) AND updated_at >= ? GROUP BY queue, status",
                (*finals, to_epoch(since)),
            ).fetchall()
        )
        return finished_from_groups(rows)
