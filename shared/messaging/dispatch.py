"""Publish, then mark published: the one way a recorded message reaches delivery.

Every path that hands a recorded ``PENDING`` message to the work queue goes through
:class:`Dispatcher`: a push, a batch, a redrive, a scheduled retry, a deferred early
delivery and the recovery sweep. After the work queue accepted it, the message is marked
published (batched, off the request path, by ``shared.published.PublishMarker``); a message
recorded but never marked is republished by the recovery sweep, so a crash or a broker
outage between the two steps is repaired. With in-process delivery there is no marker:
start-up recovery re-publishes every ``PENDING`` record instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from shared.ports import DeliveryUnavailable, MessageRef, WorkQueue

log = logging.getLogger(__name__)

#: Notes that a message reached the work queue (non-blocking); None: nothing to note.
MarkPublished = Callable[[MessageRef], None]


class Dispatcher:
    """Hands recorded messages to a work queue and notes each that it accepted."""

    def __init__(self, work: WorkQueue, mark: MarkPublished | None) -> None:
        self._work = work
        self._mark = mark

    async def send(self, ref: MessageRef, *, delay: float = 0.0) -> None:
        """Publish ``ref`` (in ``delay`` seconds when > 0), then mark it published.

        Raises DeliveryUnavailable when the work queue did not accept it (nothing marked).
        """
        if delay > 0:
            await self._work.publish_later(ref.queue, ref.id, delay)
        else:
            await self._work.publish(ref.queue, ref.id)
        if self._mark is not None:
            self._mark(ref)

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

    async def send_many(self, queue: str, message_ids: Sequence[str]) -> set[str]:
        """Publish all in one confirm window, mark the accepted; the ids NOT accepted."""
        refused = await self._work.publish_many(queue, message_ids)
        if self._mark is not None:
            for message_id in message_ids:
                if message_id not in refused:
                    self._mark(MessageRef(queue, message_id))
        return refused
