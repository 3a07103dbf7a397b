"""Wake-ups for clients waiting on a message to finish (``GET /{queue}/{id}?wait=N``).

A :class:`Notifier` keeps, per message id, one :class:`asyncio.Event` shared by every waiter
on that id, so a thousand waiters cost a thousand awaits on one event: no task and no store
polling per waiter. :meth:`Notifier.notify` sets the event and forgets it; waiters then
re-read the record (the store is the authority: an event only says "look again"), sharing
one read among those woken together (:meth:`Notifier.read_once`), unless the completion
carried the final record (:meth:`Notifier.carried`).

Who notifies: :class:`shared.service.announce.Announcer`, after every write a waiter cares
about (final statuses, deletes, cancels, redrives, claims and progress), in this process and
through the completion events in the others. Events are best effort; waiters re-check the store on
their own every :data:`RECHECK_SECONDS` (longer with very many waiters:
:meth:`Notifier.recheck_seconds`) so a lost event only delays the answer.

Event streams (``GET /{queue}/{id}/events``) want every change, not only the final one: they
watch :meth:`Notifier.current_change`, which :meth:`Notifier.notify_change` (a status change
or a progress report that is not final) and :meth:`Notifier.notify` (final, or deleted) both
set. Long polls are not woken by mere changes.

A completion may carry the final record as its write left it: a waiter it wakes answers that
instead of reading the store, where that is exact (``shared.service.carried``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from shared.domain.message import MessageRecord
from shared.ports import CarriedRecord
from shared.service.carried import CarriedCopies

T = TypeVar("T")

#: How often a waiter re-reads its record without being woken (the safety net).
RECHECK_SECONDS = 3.0
#: The safety net's budget of store reads per second for the whole process: with more
#: distinct messages watched than this many times :data:`RECHECK_SECONDS`, the re-check
#: interval grows (10,000 waiters re-read every 50 s), so that many waiters cannot starve
#: pushes of the store (see bench/README.md). A woken waiter reads at once whatever the
#: interval: only a lost event waits longer.
SAFETY_READS_PER_SECOND = 200.0


class Notifier:
    """Per-message-id wake-ups within one process (one event loop)."""

    def __init__(self) -> None:
        #: Set by :meth:`close`: waiters answer at once from now on (shutdown).
        self.closed = False
        self._events: dict[str, asyncio.Event] = {}
        self._changes: dict[str, asyncio.Event] = {}
        self._waiters: dict[str, int] = {}
        self._reads: dict[asyncio.Event, asyncio.Future[Any]] = {}
        self._copies = CarriedCopies()

    @property
    def waiting(self) -> int:
        """How many waiters are registered now (all ids)."""
        return sum(self._waiters.values())

    @asynccontextmanager
    async def watching(self, message_id: str) -> AsyncIterator[None]:
        """Register interest in ``message_id`` for the block (keeps its event alive).

        Each :meth:`notify` replaces the event: take :meth:`current` before re-reading the
        record, then await it, so that no wake-up between the two is missed.
        """
        self._waiters[message_id] = self._waiters.get(message_id, 0) + 1
        try:
            yield
        finally:
            left = self._waiters[message_id] - 1
            if left:
                self._waiters[message_id] = left
            else:
                del self._waiters[message_id]
                self._events.pop(message_id, None)
                self._changes.pop(message_id, None)
                self._copies.forget(message_id)

    def current(self, message_id: str) -> asyncio.Event:
        """The event the next :meth:`notify` of ``message_id`` sets."""
        event = self._events.get(message_id)
        if event is None:
            event = self._events[message_id] = asyncio.Event()
        return event

    def current_change(self, message_id: str) -> asyncio.Event:
        """The event the next :meth:`notify_change` or :meth:`notify` of ``message_id`` sets
        (take it before re-reading the record, as with :meth:`current`)."""
        event = self._changes.get(message_id)
        if event is None:
            event = self._changes[message_id] = asyncio.Event()
        return event

    def notify_change(self, message_id: str) -> None:
        """Wake the event streams of ``message_id`` (a change that is not final); a final
        record carried before is stale from now on."""
        self._copies.heard(message_id, None, False)
        self._wake_changes(message_id)

    def _wake_changes(self, message_id: str) -> None:
        event = self._changes.pop(message_id, None)
        if event is not None:
            event.set()

    def close(self) -> None:
        """Wake every waiter for good: from now on :meth:`wait` returns at once, so each
        answers with the state it reads next (the gateway is shutting down)."""
        self.closed = True
        for event in [*self._events.values(), *self._changes.values()]:
            event.set()
        self._events.clear()
        self._changes.clear()
        self._copies.clear()

    def notify(self, message_id: str, carried: CarriedRecord | None = None) -> None:
        """Wake every waiter and event stream of ``message_id`` (nothing happens if there is
        none). ``carried``: the final record the completion carried, which waiters woken now
        may answer (:meth:`carried`; ``shared.service.carried`` has the rules)."""
        self._copies.heard(message_id, carried, message_id in self._waiters)
        event = self._events.pop(message_id, None)
        if event is not None:
            event.set()
        self._wake_changes(message_id)

    def carried(self, queue: str, message_id: str, after_version: int) -> MessageRecord | None:
        """The final record a completion carried for ``message_id`` on ``queue``, if it is
        newer than ``after_version`` and no change was heard since; else None (read the
        store)."""
        return self._copies.take(queue, message_id, after_version)

    async def read_once(self, event: asyncio.Event, read: Callable[[], Awaitable[T]]) -> T:
        """``await read()``, shared by every caller holding the same ``event`` meanwhile.

        A thousand waiters woken together cost one store read. Sharing is safe: the read
        started after ``event`` was created, and a change after the read's snapshot is
        followed by a :meth:`notify` that sets ``event``. A cancelled caller does not cancel
        the read for the others.
        """
        shared = self._reads.get(event)
        if shared is None:
            shared = asyncio.ensure_future(read())
            self._reads[event] = shared
            shared.add_done_callback(lambda done: self._read_done(event, done))
        result: T = await asyncio.shield(shared)
        return result

    def _read_done(self, event: asyncio.Event, done: asyncio.Future[Any]) -> None:
        if self._reads.get(event) is done:
            del self._reads[event]
        if not done.cancelled():
            done.exception()  # retrieved: no "never retrieved" warning if every caller left

    def recheck_seconds(self) -> float:
        """How long a waiter waits before re-reading unwoken: :data:`RECHECK_SECONDS`, or
        longer when the messages watched would exceed :data:`SAFETY_READS_PER_SECOND`."""
        return max(RECHECK_SECONDS, len(self._waiters) / SAFETY_READS_PER_SECOND)

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Await ``event`` at most ``seconds`` (capped at :meth:`recheck_seconds`).

        True if it was set. Either way the caller re-reads the record and, if it is still not
        final, awaits :meth:`current` again.
        """
        if self.closed:
            return True
        try:
            async with asyncio.timeout(max(0.0, min(seconds, self.recheck_seconds()))):
                await event.wait()
        except TimeoutError:
            return False
        return True
