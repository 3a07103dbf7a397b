"""Batches "this message reached the broker" marks into one store write per interval.

The mark lets the recovery sweep tell a message that was recorded but never published (its
gateway died in between) from one waiting in a long queue. It is off the request path: the
gateway answers 201 without waiting for it. If the mark is lost (crash), the sweep publishes
the message once more; duplicates are harmless because claims are atomic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from shared.ports import MessageRef, Store, StoreUnavailable

log = logging.getLogger(__name__)


class PublishMarker:
    """Collects refs with :meth:`add`; a background task flushes them every ``interval``."""

    def __init__(self, store: Store, interval: float = 0.2) -> None:
        self._store = store
        self._interval = interval
        self._pending: list[MessageRef] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, ref: MessageRef) -> None:
        """Remember that ``ref`` was published (non-blocking)."""
        self._pending.append(ref)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="publish-marker")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        """Write the collected marks now."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            await self._store.mark_published(batch)
        except StoreUnavailable as exc:
            log.warning("could not mark %d messages published: %s", len(batch), exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
