"""Group commit for the SQLite store: concurrent writes share one transaction.

Every write the store makes (insert, claim, finish, renew, …) is a function of the
connection. :class:`GroupCommit` queues them; one drain task takes everything queued, runs
it on the store's thread inside one ``BEGIN IMMEDIATE … COMMIT``, each function inside its
own savepoint, and resolves each caller with its own result or error. While a batch is being
written, new writes queue for the next one, so a burst costs a handful of commits and
executor hops instead of one per write, and a lone write waits for nobody.

Guarantees are those of one transaction per write: a caller resumes only after the
transaction holding its write committed; a function that raises rolls back its own
savepoint only (the others in the batch still commit); if the transaction itself cannot
begin or commit (disk full, another process holding the lock past ``busy_timeout``) every
caller in the batch gets the error and nothing of the batch is written.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: A write: runs on the store's thread with the connection, inside a transaction.
Write = Callable[[sqlite3.Connection], Any]
#: Runs a function on the store's thread (mapping sqlite3 errors to StoreUnavailable).
OnThread = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]


def apply_batch(writes: list[Write], conn: sqlite3.Connection) -> list[tuple[bool, Any]]:
    """Run ``writes`` in one transaction, each in a savepoint; ``(ok, result or error)`` each.

    Raises (nothing committed) if the transaction cannot begin or commit.
    """
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for write in writes:
            conn.execute("SAVEPOINT one_write")
            try:
                result = write(conn)
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK TO one_write")
                conn.execute("RELEASE one_write")
                outcomes.append((False, exc))
                continue
            conn.execute("RELEASE one_write")
            outcomes.append((True, result))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


class GroupCommit:
    """Queues writes and drains them in batches (see the module docstring)."""

    def __init__(
        self,
        on_thread: OnThread,
        wrap_error: Callable[[sqlite3.Error], Exception],
        on_written: Callable[[], None] | None = None,
    ):
        """``on_written``: called once per batch in which at least one write succeeded."""
        self._on_thread = on_thread
        self._wrap_error = wrap_error
        self._on_written = on_written
        self._queue: list[tuple[Write, asyncio.Future[Any]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the next batch; its result once that batch committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._drain_queue(), name="sqlite-group-commit")
        return await future

    async def _drain_queue(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            writes = [fn for fn, _ in batch]
            try:
                outcomes = await self._on_thread(functools.partial(apply_batch, writes))
            except Exception as exc:  # the whole batch failed: tell every caller
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            if self._on_written is not None and any(ok for ok, _ in outcomes):
                self._on_written()
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():  # the caller was cancelled meanwhile
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(self._wrap_error(value))

    async def close(self) -> None:
        """Wait for queued writes to be written."""
        if self._drain is not None:
            await asyncio.shield(self._drain)
