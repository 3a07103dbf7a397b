"""Publish, then mark published: the one way a recorded message reaches delivery.

Every path that hands a recorded ``PENDING`` message to the work queue goes through
:class:`Dispatcher`: a push, a batch, a redrive, a scheduled retry, a deferred early
delivery and the recovery sweep. After the work queue accepted it, the message is marked
published (batched, off the request path, by ``shared.service.published.PublishMarker``); a message
recorded but never marked is republished by the recovery sweep, so a crash or a broker
outage between the two steps is repaired. With in-process delivery there is no marker:
start-up recovery re-publishes every due ``PENDING`` record instead.

A send with a delay (a delayed push, a retry, an early delivery) goes to the work queue's
``publish_later`` (RabbitMQ's delay tiers) or, when the work queue cannot hold a message
durably, to a :class:`DueWakeups` (``shared.adapters.inprocess.due.DueTimer``): the record already
waits in the store with its ``not_before``, and the timer publishes it when due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.message import utcnow
from shared.ports import DeliveryUnavailable, MessageRef, WorkQueue

log = logging.getLogger(__name__)

#: Notes that a message reached the work queue (non-blocking); None: nothing to note.
MarkPublished = Callable[[MessageRef], None]


class DueWakeups(Protocol):
    """Publishes stored messages when they come due, for a work queue that cannot hold a
    delayed message durably (the in-process due timer)."""

    def wake(self, due: datetime) -> None:
        """A message became due at ``due``: publish it then (or look again sooner)."""


class Dispatcher:
    """Hands recorded messages to a work queue and notes each that it accepted."""

    def __init__(
        self, work: WorkQueue, mark: MarkPublished | None, due: DueWakeups | None = None
    ) -> None:
        """``due``: where delayed sends go when ``work`` cannot delay durably itself."""
        self._work = work
        self._mark = mark
        self._due = due

    async def send(self, ref: MessageRef, *, delay: float = 0.0) -> None:
        """Publish ``ref`` (in ``delay`` seconds when > 0), then mark it published.

        Raises DeliveryUnavailable when the work queue did not accept it (nothing marked).
        """
        if delay > 0 and self._due is not None:
            self._due.wake(utcnow() + timedelta(seconds=delay))  # it waits in the store
            return
        if delay > 0:
            await self._work.publish_later(ref.queue, ref.id, delay)
        else:
            await self._work.publish(ref.queue, ref.id)
        if self._mark is not None:
            self._mark(ref)

    async def ready_count(self, queue: str) -> int | None:
        """How many messages of ``queue`` the work queue holds ready (``WorkQueue.ready_count``;
        None: unknown)."""
        return await self._work.ready_count(queue)

    async def send_or_leave(self, ref: MessageRef, *, delay: float = 0.0) -> bool:
        """:meth:`send`; if the work queue refuses, log it and leave the message to recovery.

        For records already marked unpublished (a redrive, a retry): the recovery sweep or
        start-up recovery delivers them. True if sent.
        """
        try:
            await self.send(ref, delay=delay)
        except DeliveryUnavailable as exc:
            log.warning(
                "message %s on %s not handed to delivery (%s); recovery will deliver it",
                ref.id,
                ref.queue,
                exc,
                extra={"message_id": ref.id, "queue": ref.queue},
            )
            return False
        return True

    async def send_each_later(
        self, queue: str, message_ids: Sequence[str], delay: float
    ) -> set[str]:
        """:meth:`send` each with ``delay``; the ids NOT accepted (never raises for one)."""
        refused: set[str] = set()
        for message_id in message_ids:
            try:
                await self.send(MessageRef(queue, message_id), delay=delay)
            except DeliveryUnavailable:
                refused.add(message_id)
        return refused

    async def send_many(self, queue: str, message_ids: Sequence[str]) -> set[str]:
        """Publish all in one confirm window, mark the accepted; the ids NOT accepted."""
        refused = await self._work.publish_many(queue, message_ids)
        if self._mark is not None:
            for message_id in message_ids:
                if message_id not in refused:
                    self._mark(MessageRef(queue, message_id))
        return refused
