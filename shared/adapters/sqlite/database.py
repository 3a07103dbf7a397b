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

from shared.adapters.history import (
    SQLITE_STATUS_WRITE,
    history_from_text,
    history_to_text,
    progress_from_text,
    progress_to_text,
    status_params,
)
from shared.adapters.record_fields import (
    counts_from_groups,
    error_from_text,
    error_to_text,
    final_statuses,
    finished_from_groups,
    from_epoch,
    json_from_text,
    to_epoch,
)
from shared.adapters.sqlite import cancel_flags as sqlite_cancel
from shared.adapters.sqlite import keys as sqlite_keys
from shared.adapters.sqlite import ticks as sqlite_schedules
from shared.adapters.sqlite.disk_refusals import DiskRefusals
from shared.adapters.sqlite.group_commit import GroupCommit
from shared.domain.idempotency import IdempotencyEntry
from shared.domain.message import ErrorInfo, Json, MessageRecord, Progress, Status, utcnow
from shared.domain.payloads import dumps
from shared.ports import (
    Cancel,
    Claim,
    ClaimOutcome,
    ListCursor,
    MessageRef,
    Outcome,
    QueueCounts,
    RecordExists,
    ScheduleState,
    StoreUnavailable,
)

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
    " not_before, version, progress, history, cancel_requested"
)
#: Columns added after the first release: (name, SQL type), added to older files at open.
ADDED_COLUMNS = (
    ("request_id", "TEXT"),
    ("not_before", "REAL"),  # a scheduled retry's due time (claim answers DEFERRED before)
    ("deliveries", "INTEGER"),  # claims since the last retry/redrive (NULL: = attempts)
    ("expires_at", "REAL"),  # when a final record may be deleted (result_ttl_seconds)
    ("version", "INTEGER"),  # bumped by every status or progress write (NULL: 0)
    ("progress", "TEXT"),  # the last ctx.progress report (JSON)
    ("history", "TEXT"),  # the last status transitions (JSON array; see stores.history)
    ("cancel_requested", "INTEGER"),  # a user asked the running message to stop (1)
)
#: Indexes on columns of :data:`ADDED_COLUMNS` (created at open, after the migration).
ADDED_INDEXES = """
CREATE INDEX IF NOT EXISTS messages_queue_created ON messages (queue, created_at);
CREATE INDEX IF NOT EXISTS messages_expires ON messages (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_due ON messages (not_before)
    WHERE not_before IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_status_updated ON messages (status, updated_at);
"""
PAGE = 500
#: Primary result codes of a write the disk refused: full, read-only (``ping`` reports them).
DISK_REFUSALS = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY})
STATUS_WRITE = SQLITE_STATUS_WRITE
#: A status write recording the row's current ``attempts`` (see ``shared.adapters.history``).
STATUS_WRITE_NOW = SQLITE_STATUS_WRITE.format(attempt="attempts")


class StoreLocked(StoreUnavailable):
    """Another process serves this database file."""

    transient = False


class StoreCannotOpen(StoreUnavailable):
    """The database file (or its lock file) cannot be opened: a path or permission problem."""

    transient = False


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
    " attempts, request_id, not_before, version, history)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        record.version,
        history_to_text(record.history),
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
        version=row[11] or 0,
        progress=progress_from_text(row[12]),
        history=history_from_text(row[13]),
        cancel_requested=bool(row[14]),
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
        self._refusals = DiskRefusals()
        self._writes = GroupCommit(self._run, self._unavailable)

    def _unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        """``exc`` as StoreUnavailable; a full or read-only disk is remembered for ping."""
        error = StoreUnavailable(f"sqlite: {exc}")
        if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF in DISK_REFUSALS:
            self._refusals.refused(str(error))
        return error

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise StoreUnavailable("store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, conn)
        except sqlite3.Error as exc:
            raise self._unavailable(exc) from exc

    def _lock(self) -> None:
        lock_path = self._path.with_name(self._path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreCannotOpen(f"sqlite: cannot open {lock_path}: {exc.strerror}") from None
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
        """Lock and open the file (its directory must exist: nothing is created but the
        file). Raises StoreLocked, StoreCannotOpen, or StoreUnavailable (busy)."""
        self._lock()

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(SCHEMA)
            conn.executescript(sqlite_keys.SCHEMA)
            conn.executescript(sqlite_schedules.SCHEMA)
            _migrate(conn)
            return conn

        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(self._executor, connect)
        except sqlite3.Error as exc:
            self._unlock()
            busy = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
            error = StoreUnavailable if busy else StoreCannotOpen
            raise error(f"sqlite: {self._path}: {exc}") from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the write ``fn`` in the next group commit (see ``sqlite_batch``)."""
        result = await self._writes.write(fn)
        self._refusals.wrote()
        return result

    async def close(self) -> None:
        if self._conn is not None:
            await self._writes.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)
        self._unlock()

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    async def ping(self) -> None:
        self._refusals.check()
        await self._run(lambda c: c.execute("SELECT 1").fetchone())

    async def insert(self, record: MessageRecord) -> None:
        row = _insert_row(record)

        def insert(c: sqlite3.Connection) -> bool:
            try:
                c.execute(INSERT_SQL, row)
            except sqlite3.IntegrityError as exc:  # the statement wrote nothing
                if "UNIQUE" not in str(exc):
                    raise
                return False  # the id exists
            return True

        if not await self._write(insert):
            raise RecordExists(f"message {record.id} exists")

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

    async def schedule_states(self) -> list[ScheduleState]:
        return await self._run(sqlite_schedules.states)

    async def anchor_schedule(self, state: ScheduleState) -> bool:
        return await self._write(functools.partial(sqlite_schedules.anchor, state))

    async def advance_schedule(
        self, queue: str, name: str, fingerprint: str, tick: datetime, message_id: str
    ) -> bool:
        return await self._write(
            functools.partial(sqlite_schedules.advance, queue, name, fingerprint, tick, message_id)
        )

    async def forget_schedules(self, queue: str, names: Sequence[str]) -> int:
        return await self._write(functools.partial(sqlite_schedules.forget, queue, names))

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
        at = utcnow()
        now = to_epoch(at)
        transition = status_params(at, Status.INPROGRESS, owner)

        def claim(c: sqlite3.Connection) -> Claim:
            row = c.execute(
                "UPDATE messages SET status = 'INPROGRESS', attempts = attempts + 1,"
                " deliveries = COALESCE(deliveries, 0) + 1, not_before = NULL,"
                " owner = ?, lease_until = ?, updated_at = ?, published = 1, progress = NULL,"
                f" {STATUS_WRITE.format(attempt='attempts + 1')}"
                " WHERE id = ? AND queue = ? AND ((status = 'PENDING'"
                "  AND (not_before IS NULL OR not_before <= ?))"
                "  OR (status = 'INPROGRESS' AND lease_until < ?))"
                f" RETURNING {COLUMNS}",
                (owner, to_epoch(lease_until), now, *transition, message_id, queue, now, now),
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

    async def renew(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[MessageRef]:
        if not refs:
            return []
        renew = functools.partial(sqlite_cancel.renew, list(refs), owner, to_epoch(lease_until))
        return await self._write(renew)

    async def cancel(self, queue: str, message_id: str, expires_at: datetime | None) -> Cancel:
        expires = to_epoch(expires_at) if expires_at else None
        now = to_epoch(utcnow())
        return await self._write(
            functools.partial(
                sqlite_cancel.cancel, COLUMNS, _row_to_record, queue, message_id, now, expires
            )
        )

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        at = utcnow()
        params = (
            outcome.status.value,
            _json_text(outcome.result),
            error_to_text(outcome.error),
            to_epoch(at),
            to_epoch(outcome.expires_at) if outcome.expires_at else None,
            *status_params(at, outcome.status, owner),
            message_id,
            queue,
            owner,
        )
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = ?, result = ?, error = ?, updated_at = ?,"
                f" expires_at = ?, owner = NULL, lease_until = NULL, {STATUS_WRITE_NOW}"
                " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount > 0

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, owner), message_id, queue, owner)
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                f" updated_at = ?, {STATUS_WRITE_NOW} WHERE id = ? AND queue = ? AND owner = ?"
                " AND status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount > 0

    async def release_all_inprogress(self) -> int:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, None))
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                f" updated_at = ?, {STATUS_WRITE_NOW} WHERE status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount

    async def record_progress(
        self, queue: str, message_id: str, owner: str, progress: Progress
    ) -> bool:
        params = (progress_to_text(progress), message_id, queue, owner)
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET progress = ?, version = COALESCE(version, 0) + 1"
                " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'",
                params,
            )
        )
        return cur.rowcount > 0

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
        at = utcnow()
        params = (
            error_to_text(error),
            to_epoch(not_before),
            to_epoch(at),
            *status_params(at, Status.PENDING, owner),
        )
        cur = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', result = NULL, error = ?,"
                " not_before = ?, deliveries = 0, published = 0, owner = NULL,"
                f" lease_until = NULL, updated_at = ?, {STATUS_WRITE_NOW}"
                " WHERE id = ? AND queue = ? AND owner = ? AND status = 'INPROGRESS'",
                (*params, message_id, queue, owner),
            )
        )
        return cur.rowcount > 0

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, None), message_id, queue)
        row = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', attempts = 0, deliveries = 0,"
                " cancel_requested = NULL, result = NULL, error = NULL, not_before = NULL,"
                " published = 0, expires_at = NULL,"
                " owner = NULL, lease_until = NULL, progress = NULL, updated_at = ?,"
                f" {STATUS_WRITE.format(attempt='0')}"
                f" WHERE id = ? AND queue = ? AND status = 'ERROR' RETURNING {COLUMNS}",
                params,
            ).fetchone()
        )
        return _row_to_record(row) if row else None

    async def fail_abandoned(
        self, expired_before: datetime, min_attempts: int, error: ErrorInfo
    ) -> list[MessageRef]:
        at = utcnow()
        params = (
            error_to_text(error),
            to_epoch(at),
            *status_params(at, Status.ERROR, None),
            to_epoch(expired_before),
            min_attempts,
        )
        rows = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'ERROR', error = ?, updated_at = ?, owner = NULL,"
                f" lease_until = NULL, {STATUS_WRITE_NOW}"
                " WHERE status = 'INPROGRESS' AND lease_until < ?"
                " AND COALESCE(deliveries, attempts) >= ? AND COALESCE(cancel_requested, 0) = 0"
                " RETURNING queue, id",
                params,
            ).fetchall()
        )
        return [MessageRef(q, i) for q, i in rows]

    async def release_expired(self, expired_before: datetime) -> list[MessageRef]:
        at = utcnow()
        params = (to_epoch(at), *status_params(at, Status.PENDING, None), to_epoch(expired_before))
        rows = await self._write(
            lambda c: c.execute(
                "UPDATE messages SET status = 'PENDING', owner = NULL, lease_until = NULL,"
                f" published = 0, updated_at = ?, {STATUS_WRITE_NOW}"
                " WHERE status = 'INPROGRESS' AND lease_until < ?"
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
                " AND status IN ('COMPLETE', 'ERROR', 'CANCELLED')",
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

    async def finished_since(self, since: datetime) -> dict[str, dict[Status, int]]:
        finals = final_statuses()
        marks = ", ".join("?" for _ in finals)
        rows = await self._run(
            lambda c: c.execute(
                "SELECT queue, status, COUNT(*) FROM messages"
                f" WHERE status IN ({marks}) AND updated_at >= ? GROUP BY queue, status",
                (*finals, to_epoch(since)),
            ).fetchall()
        )
        return finished_from_groups(rows)
