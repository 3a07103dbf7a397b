"""What the SQLite store's parts share: one connection, its thread and its group commit.

No port of its own: every part of the store (``records``, ``claims``, ``sweeps``, ``keys``,
``ticks``) reaches the database through the store's one :class:`SqliteConnection`, and
``database.SqliteStore`` (the lifecycle) connects and closes it.

All statements run on one dedicated thread holding the one connection, so the event loop
never blocks on disk and SQLite never sees concurrent writers from this process. Reads run
directly on that thread (:meth:`SqliteConnection.run`); writes go through the group commit
(:meth:`SqliteConnection.write`, see ``group_commit``), each its own savepoint inside a
shared transaction, committed before the awaiting coroutine resumes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from shared.adapters.sqlite.disk_refusals import DiskRefusals
from shared.adapters.sqlite.group_commit import GroupCommit
from shared.ports import StoreUnavailable

T = TypeVar("T")


#: Primary result codes of a write the disk refused: full, read-only (``ping`` reports them).
DISK_REFUSALS = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY})


class SqliteConnection:
    """The connection (None until connected and after close), its thread and its writes."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self.conn: sqlite3.Connection | None = None
        #: Writes the disk refused lately (``disk_refusals``): the store's ping reports them.
        self.refusals = DiskRefusals()
        self.writes = GroupCommit(self.run, self.unavailable, self.refusals.wrote)

    def unavailable(self, exc: sqlite3.Error) -> StoreUnavailable:
        """``exc`` as StoreUnavailable; a full or read-only disk is remembered for ping."""
        error = StoreUnavailable(f"sqlite: {exc}")
        if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF in DISK_REFUSALS:
            self.refusals.refused(str(error))
        return error

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` on the database thread, outside the group commit (a read).

        Raises StoreUnavailable when not connected or on any ``sqlite3.Error``."""
        conn = self.conn
        if conn is None:
            raise StoreUnavailable("store is not open")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, fn, conn)
        except sqlite3.Error as exc:
            raise self.unavailable(exc) from exc

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> Coroutine[Any, Any, T]:
        """Run the write ``fn`` in the next group commit; await the result (the group
        commit's own coroutine, handed back as is: no extra frame per write)."""
        return self.writes.write(fn)

    async def connect(self, connect: Callable[[], sqlite3.Connection]) -> None:
        """Open the connection with ``connect``, on the database thread (errors propagate)."""
        loop = asyncio.get_running_loop()
        self.conn = await loop.run_in_executor(self.executor, connect)

    async def close(self) -> None:
        """Wait for queued writes, close the connection, stop the thread. Idempotent."""
        if self.conn is not None:
            await self.writes.close()
        conn, self.conn = self.conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self.executor, conn.close)
        self.executor.shutdown(wait=True)
