"""``shared.ports.Search`` on the SQLite store: one partial expression index per indexed field.

The index of field ``f`` of queue ``q`` is::

    CREATE INDEX "search:q:f" ON messages (json_extract(request, '$.f'), created_at, id)
        WHERE queue = 'q'

Why this and not a side table of (queue, field, value, id): SQLite maintains an expression
index itself in the same write as the row, so it can never disagree with the record (deletes,
expiry, a crash between two writes), the insert statement is unchanged, and there is nothing to
backfill by hand. It is partial on the queue: a row of another queue never enters it (SQLite
only tests the ``WHERE``), so a queue with no indexed field has no index entry written for
its pushes at all. It ends with ``created_at, id`` so a filtered listing walks it newest first
and stops after ``limit`` rows (keyset pagination by ``before``).

A query uses it only when its terms name the same expression and the same queue literally,
so :func:`match_sql` writes the queue name and the JSON path into the SQL text (both are
restricted names: ``shared.queues.definitions.NAME_RE``, ``indexed_fields.FIELD_RE``) and binds
only the value. ``json_extract`` gives ``1``/``0`` for ``true``/``false`` and compares numbers
numerically, so each term also checks ``json_type``: exact on the JSON type.

Building runs ``CREATE INDEX IF NOT EXISTS`` as one write on the database thread: other
statements of this process wait for it (a scan of the queue's rows), and other processes'
writes wait up to their ``busy_timeout``. That is acceptable for the embedded store's sizes;
the gateway answers 409 for searches on the field until it is done.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.adapters.record_fields import to_epoch
from shared.adapters.sqlite.connection import SqliteConnection
from shared.domain.message import Status
from shared.ports import FieldMatch, ListCursor, Search

_SAFE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


def _safe(name: str) -> str:
    if _SAFE.fullmatch(name) is None:  # never: definitions restrict both names
        raise ValueError(f"not a queue or field name: {name!r}")
    return name


def index_name(queue: str, field: str) -> str:
    """The quoted name of the index of ``field`` of ``queue``."""
    return f'"search:{_safe(queue)}:{_safe(field)}"'


def _expression(field: str) -> str:
    return f"json_extract(request, '$.{_safe(field)}')"


def match_sql(
    queue: str,
    status: Status | None,
    where: Sequence[FieldMatch],
    before: ListCursor | None,
    after: datetime | None = None,
) -> tuple[str, list[Any]]:
    """The ``WHERE`` text and parameters selecting these records of ``queue``."""
    if where:  # literal, so that the partial index applies (see the module docstring)
        sql, params = f"queue = '{_safe(queue)}'", list[Any]()
    else:
        sql, params = "queue = ?", [queue]
    for term in where:
        x = _expression(term.field)
        value = term.value
        if isinstance(value, bool):
            sql += f" AND {x} = ? AND json_type(request, '$.{term.field}') = ?"
            params += [int(value), "true" if value else "false"]
        elif isinstance(value, int):
            sql += f" AND {x} = ? AND json_type(request, '$.{term.field}') IN ('integer', 'real')"
            params.append(value)
        else:
            sql += f" AND {x} = ? AND json_type(request, '$.{term.field}') = 'text'"
            params.append(value)
    if status is not None:
        sql += " AND status = ?"
        params.append(status.value)
    if before is not None:
        at = to_epoch(before.created_at)
        sql += " AND (created_at < ? OR (created_at = ? AND id < ?))"
        params += [at, at, before.id]
    if after is not None:
        sql += " AND created_at > ?"
        params.append(to_epoch(after))
    return sql, params


class SqliteSearch(Search):
    """The ``Search`` part of ``SqliteStore`` (uses only its :class:`SqliteConnection`)."""

    _db: SqliteConnection

    async def build_index(self, queue: str, field: str) -> None:
        sql = (
            f"CREATE INDEX IF NOT EXISTS {index_name(queue, field)} ON messages"
            f" ({_expression(field)}, created_at, id) WHERE queue = '{_safe(queue)}'"
        )
        await self._db.write(lambda c: c.execute(sql))

    async def count_records(
        self,
        queue: str,
        status: Status | None,
        where: Sequence[FieldMatch],
        limit: int,
        before: ListCursor | None = None,
        after: datetime | None = None,
    ) -> int:
        cond, params = match_sql(queue, status, where, before, after)
        sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE {cond} LIMIT ?)"

        def count(c: sqlite3.Connection) -> int:
            return int(c.execute(sql, (*params, limit)).fetchone()[0])

        return await self._db.run(count)
