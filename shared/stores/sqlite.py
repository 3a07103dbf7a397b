"""The embedded store: one SQLite file in WAL mode, for ``conveyor serve`` on one machine.

All statements run on one dedicated thread holding one connection, so the event loop never
blocks on disk and SQLite never sees concurrent writers. Every write is its own transaction
and is committed before the awaiting coroutine resumes (WAL + ``synchronous=NORMAL``: a
committed write survives the process being killed; an OS crash may lose the last moments).

Two ways to open a file, set per opened store:

- **sole** (``shared=False``, the embedded ``conveyor serve`` with in-process delivery):
  :meth:`SqliteStore.open` takes an exclusive lock on ``<db>.lock`` and fails if any other
  process uses the file. That is what makes :meth:`release_all_inprogress` safe at start-up.
- **shared** (``shared=True``, RabbitMQ delivery): a gateway and any number of consumer
  processes on one host open the same file, each holding a shared lock on ``<db>.lock`` (so a
  sole opener is refused while they run, and they are refused while it runs). Claims stay
  atomic across processes (each is one ``UPDATE … RETURNING`` under SQLite's write lock;
  writers wait up to ``busy_timeout``), and leases plus the recovery sweep decide who holds
  what, as with MongoDB: start-up recovery never resets other consumers' work.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from shared.idempotency import IdempotencyEntry
from shared.ports import (
    Claim,
    ClaimOutcome,
    ListCursor,
    MessageRef,
    Outcome,
    QueueCounts,
    StoreUnavailable,
)
from shared.records import ErrorInfo, Json, MessageRecord, Status, utcnow
from shared.stores import sqlite_keys
from shared.stores.codec import (
    counts_from_groups,
    error_from_text,
    error_to_text,
    from_epoch,
    json_from_text,
    to_epoch,
)
from shared.stores.sqlite_batch import GroupCommit
from shared.validation import dumps

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id          TEXT PRIMARY KEY,
    queue       TEXT NOT NULL,
    status      TEXT NOT NULL,
    request     TEXT NOT NULL,
    result      TEXT,
    error       TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    owner       TEXT,
    lease_until REAL,
    published   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_queue_status_created
    ON messages (queue, status, created_at);
CREATE INDEX IF NOT EXISTS messages_status_created ON messages (status, created_at);
"""

COLUMNS = (
    "id, queue, status, request, result, error, created_at, updated_at, attempts, request_id,"
    " not_before"
)
#: Columns added after the first release: (name, SQL type), added to older files at open.
ADDED_COLUMNS = (
    ("request_id", "TEXT"),
    ("not_before", "REAL"),  # a scheduled retry's due time (claim answers DEFERRED before)
    ("deliveries", "INTEGER"),  # claims since the last retry/redrive (NULL: = attempts)
    ("expires_at", "REAL"),  # when a final record may be deleted (result_ttl_seconds)
)
#: Indexes on columns of :data:`ADDED_COLUMNS` (created at open, after the migration).
ADDED_INDEXES = """
CREATE INDEX IF NOT EXISTS messages_queue_created ON messages (queue, created_at);
CREATE INDEX IF NOT EXISTS messages_expires ON messages (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_due ON messages (not_before)
    WHERE not_before IS NOT NULL;
"""
PAGE = 500


class StoreLocked(StoreUnavailable):
    """Another process serves this database file."""


def _json_text(value: Json) -> str:
    """``dumps(value)``, \\u-escaped if it holds lone surrogates (SQLite text is UTF-8)."""
    text = dumps(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text


def _fetchall(sql: str, params: tuple[Any, ...], conn: sqlite3.Connection) -> list[Any]:
    return conn.execute(sql, params).fetchall()


INSERT_SQL = (
    "INSERT INTO messages (id, queue, status, request, created_at, updated_at,"
    " attempts, request_id, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _insert_row(record: MessageRecord) -> tuple[Any, ...]:
    return (
        record.id,
        record.queue,
        record.status.value,
        _json_text(record.request),
        to_epoch(record.created_at),
        to_epoch(record.updated_at),
        record.attempts,
        record.request_id,
        to_epoch(record.not_before) if record.not_before else None,
    )


def _row_to_record(row: Sequence[Any]) -> MessageRecord:
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
    )


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the :data:`ADDED_COLUMNS` a database file created by an older version lacks."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    for name, sql_type in ADDED_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE messages ADD COLUMN {name} {sql_type}")
    conn.executescript(ADDED_INDEXES)


class SqliteStore:
    """:class:`shared.ports.Store` on a SQLite file."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        """``shared``: other processes on this host may open the file too (see the module
        docstring); else this process must be its sole user."""
        self._path = path
        self.shared_between_processes = shared
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._writes = GroupCommit(self._run, lambda exc: StoreUnavailable(f"sqlite: {exc}"))

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise StoreUnavailable("store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, conn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    def _lock(self) -> None:
        lock_path = self._path.with_name(self._path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)  # OSError: see open()
        shared = self.shared_between_processes
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if shared:
                raise StoreLocked(
                    f"{self._path} is in use by an embedded Conveyor (in-process delivery); "
                    "a shared store needs every process on RabbitMQ delivery"
                ) from None
            raise StoreLocked(f"{self._path} is in use by another Conveyor process") from None
        self._lock_fd = fd

    async def open(self) -> None:
        try:  # a read-only or full file system, a missing permission: one clear error
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._lock()
        except OSError as exc:
            raise StoreUnavailable(f"sqlite: cannot open {self._path}: {exc.strerror}") from exc

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(SCHEMA)
            conn.executescript(sqlite_keys.SCHEMA)
            _migrate(conn)
            return conn

        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(self._executor, connect)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the write ``fn`` in the next group commit (see ``sqlite_batch``)."""
        return await self._writes.write(fn)

    async def close(self) -> None:
        if self._conn is not None:
            await self._writes.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def ping(self) -> None:
        await self._run(lambda c: c.execute("SELECT 1").fetchone())

    async def insert(self, record: MessageRecord) -> None:
        row = _insert_row(record)
        await self._write(lambda c: c.execute(INSERT_SQL, row))

    async def insert_many(self, records: Sequence[MessageRecord]) -> list[str]:
        rows = [_insert_row(record) for record in records]

        def insert_all(c: sqlite3.Connection) -> None:
            c.executemany(INSERT_SQL, rows)  # one savepoint: all rows or none

        if rows:
            await self._write(insert_all)
        return []

    async def reserve_key(self, entry: IdempotencyEntry) -> IdempotencyEntry | None:
        return await self._write(functools.partial(sqlite_keys.reserve, entry))

    async def finish_key(self, scope: str, key: str, message_id: str) -> bool:
        return await self._write(functools.partial(sqlite_keys.finish, scope, key, message_id))

    async def release_key(self, scope: str, key: str, message_id: str) -> bool:
        return await self._write(functools.partial(sqlite_keys.release, scope, key, message_id))

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        row = await self._run(
            lambda c: c.execute(
                f"SELECT {COLUMNS} FROM messages WHERE id = ? AND queue = ?", (message_id, queue)
            ).fetchone()
        )
        return _row_to_record(row) if row else None

    async def delete(self, queue: str, message_id: str) -> bool:
        cur = await self._write(
            lambda c: c.execute(
                "DELETE FROM messages WHERE id = ? AND queue = ?", (message_id, queue)
            )
        )
        return cur.rowcount > 0

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        now = to_epoch(utcnow())

        def claim(c: sqlite3.Connection) -> Claim:
            row = c.execute(
                "UPDATE messages SET status = 'INPROGRESS', attempts = attempts + 1,"
                " deliveries = COALESCE(deliveries, 0) + 1, not_before = NULL,"
                " owner = ?, lease_until = ?, updated_at = ?, published = 1"
                " WHERE id = ? AND queue = ? AND ((status = 'PENDING'"
                "  AND (not_before IS NULL OR not_before <= ?))"
                "  OR (status = 'INPROGRESS' AND lease_until < ?))"
                f" RETURNING {COLUMNS}",
                (owner, to_epoch(lease_until), now, message_id, queue, now, now),
            ).fetchone()
            if row:
                return Claim(ClaimOutcome.CLAIMED, _row_to_record(row))
            row = c.execute(
                f"SELECT {COLUMNS} FROM messages WHERE id = ? AND queue = ?", (message_id, queue)
            ).fetchone()
            if row is None:
                return Claim(ClaimOutcome.GONE)
            record = _row_to_record(row)
            if record.status is Status.PENDING:  # not claimable yet: a scheduled retry
                (due,) = c.execute(
                    "SELECT not_before FROM messages WHERE id = ?", (message_id,)
                ).fetchone()
                when = from_epoch(due) if due is not None else utcnow()
                return Claim(ClaimOutcome.DEFERRED, record, when)
            outcome = ClaimOutcome.FINAL if record.status.final else ClaimOutcome.BUSY
            return Claim(outcome, record)

        return await self._write(claim)

    async def renew(self, refs: Sequence[MessageRef], owner: str, lease_until: datetime) -> None:
        if not refs:
            return
        params = [(to_epoch(lease_until), r.id, owner) for r in refs]
        await self._write(
            lambda c: c.executemany(
                "UPDATE messages SET lease_until = ? WHERE id = ? AND owner = ?"
                " AND status = 'INPROGRESS'",
                params,
            )
        )

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        params = (
            outcome.status.value,
            _json_text(outcome.result),
            error_to_text(outcome.error),
            to_epoch(utcnow()),
            to_epoch(outcome.expires_at) if outcome.expires_at else None,
            message_id,
            queue,
            owner,
        )
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = ?, result = ?, error = ?, updated_at = ?,"
                " expires_at = ?, owner = NULL, lease_until = NULL"
                " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount > 0

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        params = (to_epoch(utcnow()), message_id, queue, owner)
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                " updated_at = ? WHERE id = ? AND queue = ? AND owner = ?"
                " AND status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount > 0

    async def release_all_inprogress(self) -> int:
        now = to_epoch(utcnow())
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                " updated_at = ? WHERE status = 'INPROGRESS'",
                (now,),
            )
        )
        return cur.rowcount

    async def mark_published(self, refs: Sequence[MessageRef]) -> None:
        if refs:
            params = [(r.id,) for r in refs]
            await self._write(
                lambda c: c.executemany("UPDATE messages SET published = 1 WHERE id = ?", params)
            )

    async def _scan(self, where: str, params: tuple[Any, ...]) -> AsyncIterator[MessageRef]:
        after: tuple[float, str] = (float("-inf"), "")
        while True:
            sql = (
                f"SELECT queue, id, created_at FROM messages WHERE {where}"
                " AND (created_at > ? OR (created_at = ? AND id > ?))"
                f" ORDER BY created_at, id LIMIT {PAGE}"
            )
            rows = await self._run(
                functools.partial(_fetchall, sql, (*params, after[0], after[0], after[1]))
            )
            for queue, message_id, _ in rows:
                yield MessageRef(queue, message_id)
            if len(rows) < PAGE:
                return
            after = (rows[-1][2], rows[-1][1])

    def unpublished(self, older_than: datetime) -> AsyncIterator[MessageRef]:
        return self._scan(
            "status = 'PENDING' AND published = 0 AND created_at < ?", (to_epoch(older_than),)
        )

    def pending(self) -> AsyncIterator[MessageRef]:
        return self._scan(
            "status = 'PENDING' AND (not_before IS NULL OR not_before <= ?)",
            (to_epoch(utcnow()),),
        )

    async def next_due(self) -> datetime | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT MIN(not_before) FROM messages"
                " WHERE status = 'PENDING' AND not_before IS NOT NULL"
            ).fetchone()
        )
        return from_epoch(row[0]) if row and row[0] is not None else None

    async def schedule_retry(
        self, queue: str, message_id: str, owner: str, error: ErrorInfo, not_before: datetime
    ) -> bool:
        params = (error_to_text(error), to_epoch(not_before), to_epoch(utcnow()))
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', result = NULL, error = ?,"
                " not_before = ?, deliveries = 0, published = 0, owner = NULL,"
                " lease_until = NULL, updated_at = ?"
                " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'",
                (*params, message_id, queue, owner),
            )
        )
        return cur.rowcount > 0

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        row = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', attempts = 0, deliveries = 0,"
                " result = NULL, error = NULL, not_before = NULL, published = 0, expires_at = NULL,"
                " owner = NULL, lease_until = NULL, updated_at = ?"
                f" WHERE id = ? AND queue = ? AND status = 'ERROR' RETURNING {COLUMNS}",
                (to_epoch(utcnow()), message_id, queue),
            ).fetchone()
        )
        return _row_to_record(row) if row else None

    async def fail_abandoned(
        self, expired_before: datetime, min_attempts: int, error: ErrorInfo
    ) -> list[MessageRef]:
        params = (error_to_text(error), to_epoch(utcnow()), to_epoch(expired_before), min_attempts)
        rows = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'ERROR', error = ?, updated_at = ?, owner = NULL,"
                " lease_until = NULL WHERE status = 'INPROGRESS' AND lease_until < ?"
                " AND COALESCE(deliveries, attempts) >= ? RETURNING queue, id",
                params,
            ).fetchall()
        )
        return [MessageRef(q, i) for q, i in rows]

    async def release_expired(self, expired_before: datetime) -> list[MessageRef]:
        params = (to_epoch(utcnow()), to_epoch(expired_before))
        rows = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                " published = 0, updated_at = ? WHERE status = 'INPROGRESS' AND lease_until < ?"
                " RETURNING queue, id",
                params,
            ).fetchall()
        )
        return [MessageRef(q, i) for q, i in rows]

    async def take_overdue(self, due_before: datetime) -> list[MessageRef]:
        params = (to_epoch(due_before),)
        rows = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET not_before = NULL, published = 0"
                " WHERE status = 'PENDING' AND not_before < ? RETURNING queue, id",
                params,
            ).fetchall()
        )
        return [MessageRef(q, i) for q, i in rows]

    async def list_records(
        self, queue: str, status: Status | None, limit: int, before: ListCursor | None
    ) -> list[MessageRecord]:
        where = "queue = ?"
        params: list[Any] = [queue]
        if status is not None:
            where += " AND status = ?"
            params.append(status.value)
        if before is not None:
            at = to_epoch(before.created_at)
            where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
            params += [at, at, before.id]
        sql = (
            f"SELECT {COLUMNS} FROM messages WHERE {where}"
            " ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        rows = await self._run(functools.partial(_fetchall, sql, (*params, limit)))
        return [_row_to_record(row) for row in rows]

    async def delete_expired(self, now: datetime) -> int:
        cur = await self._write(
            lambda c: c.execute(
                "DELETE FROM messages WHERE expires_at IS NOT NULL AND expires_at < ?"
                " AND status IN ('COMPLETE', 'ERROR')",
                (to_epoch(now),),
            )
        )
        return cur.rowcount

    async def counts(self) -> dict[str, QueueCounts]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT queue, status, COUNT(*), MIN(created_at) FROM messages"
                " GROUP BY queue, status"
            ).fetchall()
        )
        return counts_from_groups((q, s, n, from_epoch(t)) for q, s, n, t in rows)
