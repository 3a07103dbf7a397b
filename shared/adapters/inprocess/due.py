"""Delayed delivery where the work queue cannot hold a message durably (in-process).

A delayed push, a retry or an early delivery waits in the store (``PENDING`` with its
``not_before``), never in memory per message: :class:`DueTimer` keeps ONE event-loop timer,
for the earliest due time the store knows (``Recovery.next_due``). When it fires, it takes
the records now due (``Recovery.take_overdue``) and publishes them. A delayed message pushed
with an earlier due time wakes it (:meth:`DueTimer.wake`). Nothing is lost with the process:
after a restart the timer starts from the store again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Protocol

from shared.domain.message import utcnow
from shared.ports import DeliveryUnavailable, MessageRef, StoreUnavailable, WorkQueue

log = logging.getLogger(__name__)

#: The longest the timer sleeps without looking at the store again (a safety net).
MAX_SLEEP_SECONDS = 30.0
#: How long to wait before trying again after a store or delivery failure.
RETRY_SECONDS = 1.0


class DueStore(Protocol):
    """What the timer needs of the store (``Recovery``)."""

    async def next_due(self) -> datetime | None: ...

    async def take_overdue(self, due_before: datetime) -> list[MessageRef]: ...


class DueTimer:
    """Publishes stored messages when their ``not_before`` comes (see the module docstring)."""

    def __init__(self, store: DueStore, work: WorkQueue) -> None:
        self._store = store
        self._work = work
        self._wake = asyncio.Event()
        self._target: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    def wake(self, due: datetime) -> None:
        """A message became due at ``due``: look again if that is before the current target."""
        if self._target is None or due < self._target:
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="due-timer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.publish_due()
                self._target = await self._store.next_due()
            except (StoreUnavailable, DeliveryUnavailable) as exc:
                log.warning("due timer: %s; trying again in %.0fs", exc, RETRY_SECONDS)
                self._target = None
                await asyncio.sleep(RETRY_SECONDS)
                continue
            sleep = MAX_SLEEP_SECONDS
            if self._target is not None:
                sleep = min(sleep, max(0.0, (self._target - utcnow()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(sleep):
                    await self._wake.wait()
            self._wake.clear()

    async def publish_due(self) -> int:
        """Publish every message due now; how many."""
        refs = await self._store.take_overdue(utcnow())
        for ref in refs:
            await self._work.publish(ref.queue, ref.id)
        if refs:
            log.debug("due timer published %d messages", len(refs))
        return len(refs)
