"""The SQLite store's row codec: a ``messages`` row ↔ a :class:`MessageRecord`.

No port of its own: what the parts implementing ``Records``, ``Claims`` and ``Recovery``
(``records``, ``claims``, ``sweeps``) share to read and write rows: the column list every
``SELECT``/``RETURNING`` uses, the insert statement, and the ``SET`` clause of a status
write (``shared.adapters.history``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from shared.adapters.history import (
    SQLITE_STATUS_WRITE,
    history_from_text,
    history_to_text,
    progress_from_text,
)
from shared.adapters.record_fields import error_from_text, from_epoch, json_from_text, to_epoch
from shared.domain.message import Json, MessageRecord, Status
from shared.domain.payloads import dumps

#: The columns :func:`row_to_record` reads, in its order.
COLUMNS = (
    "id, queue, status, request, result, error, created_at, updated_at, attempts, request_id,"
    " not_before, version, progress, history, cancel_requested, owner, lease_until"
)
INSERT_SQL = (
    "INSERT INTO messages (id, queue, status, request, created_at, updated_at,"
    " attempts, request_id, not_before, version, history)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: A status write recording the row's current ``attempts`` (see ``shared.adapters.history``).
STATUS_WRITE_NOW = SQLITE_STATUS_WRITE.format(attempt="attempts")


def json_text(value: Json) -> str:
    """``dumps(value)``, \\u-escaped if it holds lone surrogates (SQLite text is UTF-8)."""
    text = dumps(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text


def fetchall(sql: str, params: tuple[Any, ...], conn: sqlite3.Connection) -> list[Any]:
    """Every row of ``sql`` (for ``functools.partial``: runs on the database thread)."""
    return conn.execute(sql, params).fetchall()


def insert_row(record: MessageRecord) -> tuple[Any, ...]:
    """The parameters of :data:`INSERT_SQL` for a new record."""
    return (
        record.id,
        record.queue,
        record.status.value,
        json_text(record.request),
        to_epoch(record.created_at),
        to_epoch(record.updated_at),
        record.attempts,
        record.request_id,
        to_epoch(record.not_before) if record.not_before else None,
        record.version,
        history_to_text(record.history),
    )


def row_to_record(row: Sequence[Any]) -> MessageRecord:
    """The record of a row of :data:`COLUMNS`."""
    return MessageRecord(
        id=row[0],
        queue=row[1],
        status=Status(row[2]),
        request=json_from_text(row[3]),
        result=json_from_text(row[4]),
        error=error_from_text(row[5]),
        created_at=from_epoch(row[6]),
        updated_at=from_epoch(row[7]),
        attempts=row[8],
        request_id=row[9],
        not_before=from_epoch(row[10]) if row[10] is not None else None,
        version=row[11] or 0,
        progress=progress_from_text(row[12]),
        history=history_from_text(row[13]),
        cancel_requested=bool(row[14]),
        owner=row[15],
        lease_until=from_epoch(row[16]) if row[16] is not None else None,
    )
