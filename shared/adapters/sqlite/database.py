"""The embedded store: one SQLite file in WAL mode, for ``conveyor serve`` on one machine.

This module is the store's ``shared.ports.StoreLifecycle`` (lock, open, migrate, identity,
close, ping) and :class:`SqliteStore`, composed of the parts implementing the other ports:
``records`` (Records), ``claims`` (Claims, ProgressReports), ``sweeps`` (Recovery), ``keys``
(Keys), ``ticks`` (ScheduleStates), ``workers`` (Workers), ``audit`` (Audit), ``search``
(Search), ``rollups`` (Rollups) and ``pauses`` (QueuePauses). They share one
``connection.SqliteConnection``; ``rows`` is their row codec.

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

import fcntl
import os
import sqlite3
import time
import uuid
from pathlib import Path

from shared.adapters.sqlite import audit, keys, pauses, rollups, ticks, workers
from shared.adapters.sqlite.claims import SqliteClaims
from shared.adapters.sqlite.connection import SqliteConnection
from shared.adapters.sqlite.records import SqliteRecords
from shared.adapters.sqlite.search import SqliteSearch
from shared.adapters.sqlite.sweeps import SqliteSweeps
from shared.ports import StoreUnavailable

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

#: Columns added after the first release: (name, SQL type), added to older files at open.
ADDED_COLUMNS = (
    ("request_id", "TEXT"),
    ("not_before", "REAL"),  # a scheduled retry's due time (claim answers DEFERRED before)
    ("deliveries", "INTEGER"),  # claims since the last retry/redrive (NULL: = attempts)
    ("expires_at", "REAL"),  # when a final record may be deleted (result_ttl_seconds)
    ("version", "INTEGER"),  # bumped by every status or progress write (NULL: 0)
    ("progress", "TEXT"),  # the last ctx.progress report (JSON)
    ("history", "TEXT"),  # the last status transitions (JSON array; see shared.adapters.history)
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


#: The store's identity (``StoreLifecycle.identity``): one row, created by the first open.
IDENTITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_identity (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id  TEXT NOT NULL
);
"""


class StoreLocked(StoreUnavailable):
    """Another process serves this database file."""

    transient = False


class StoreCannotOpen(StoreUnavailable):
    """The database file (or its lock file) cannot be opened: a path or permission problem."""

    transient = False


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the :data:`ADDED_COLUMNS` a database file created by an older version lacks."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    for name, sql_type in ADDED_COLUMNS:
        if name not in present:
            try:
                conn.execute(f"ALTER TABLE messages ADD COLUMN {name} {sql_type}")
            except sqlite3.OperationalError as exc:
                # Another process opening the same new file added it between our look and
                # our ALTER (a gateway and a consumer starting together): nothing to do.
                if "duplicate column name" not in str(exc):
                    raise
    conn.executescript(ADDED_INDEXES)


#: How long an open keeps retrying a set-up SQLite refused at once as "locked".
OPEN_BUSY_SECONDS = 5.0


def _connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` in WAL mode and bring its schema up to date (on the database thread).

    Processes opening a new file together (a gateway and consumers starting at once) wait
    for each other: the busy handler is on from the first statement (``timeout``), and
    where SQLite answers "database is locked" at once instead of waiting (its deadlock
    avoidance, e.g. while another connection switches the new file to WAL), the whole
    set-up, every step of which is idempotent, is tried again for up to
    :data:`OPEN_BUSY_SECONDS`."""
    deadline = time.monotonic() + OPEN_BUSY_SECONDS
    while True:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        try:
            _set_up(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)
            continue
        except BaseException:
            conn.close()
            raise
        return conn


def _set_up(conn: sqlite3.Connection) -> None:
    """WAL mode, the schema and its migrations, and the store's identity row."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(SCHEMA)
    conn.executescript(keys.SCHEMA)
    conn.executescript(ticks.SCHEMA)
    conn.executescript(audit.SCHEMA)
    conn.executescript(workers.SCHEMA)
    conn.executescript(rollups.SCHEMA)
    conn.executescript(pauses.SCHEMA)
    _migrate(conn)
    conn.executescript(IDENTITY_SCHEMA)
    # Concurrent first opens (shared mode) both try; the first insert wins, the other is ignored.
    new_id = uuid.uuid4().hex
    conn.execute("INSERT OR IGNORE INTO store_identity (one, id) VALUES (1, ?)", (new_id,))


def _identity(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT id FROM store_identity WHERE one = 1").fetchone()
    if row is None:  # only if someone deleted the row under a running store
        raise sqlite3.DatabaseError("the store_identity row is missing")
    return str(row[0])


class SqliteStore(
    SqliteRecords,
    SqliteClaims,
    SqliteSweeps,
    keys.SqliteKeys,
    ticks.SqliteTicks,
    workers.SqliteWorkers,
    audit.SqliteAudit,
    SqliteSearch,
    rollups.SqliteRollups,
    pauses.SqlitePauses,
):
    """:class:`shared.ports.Store` on a SQLite file: the lifecycle here, each other port in
    its part (the parts use only ``self._db``)."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        """``shared``: other processes on this host may open the file too (see the module
        docstring); else this process must be its sole user."""
        self._path = path
        self.shared_between_processes = shared
        self._db = SqliteConnection()
        self._lock_fd: int | None = None

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
        try:
            await self._db.connect(lambda: _connect(self._path))
        except sqlite3.Error as exc:
            self._unlock()
            busy = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
            error = StoreUnavailable if busy else StoreCannotOpen
            raise error(f"sqlite: {self._path}: {exc}") from exc

    async def close(self) -> None:
        await self._db.close()
        self._unlock()

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    async def identity(self) -> str:
        return await self._db.run(_identity)

    async def ping(self) -> None:
        self._db.refusals.check()
        await self._db.run(lambda c: c.execute("SELECT 1").fetchone())
