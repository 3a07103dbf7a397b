"""The one place that decides what happens to a delivery.

Every delivery is processed inside :func:`settlement`:

- the body returns normally (done, or the record was deleted/already final) → ack; a
  failed run with attempts left also returns normally: its retry is already recorded and
  handed to ``WorkQueue.publish_later`` (``consumer.reschedule``), so this delivery is done
  and no consumer holds a waiting retry;
- ``CancelledError`` because a user cancelled the message (``stop.requested``) → write
  ``CANCELLED`` (``stop.write``), ack, and end normally: the task goes on (its cancel is
  withdrawn with ``Task.uncancel``), since the run is over, not the consumer. Both steps
  are shielded, so a shutdown arriving meanwhile cannot leave the delivery unsettled;
- ``CancelledError`` otherwise (shutdown past the grace period) → requeue for another
  consumer, then re-raise;
- any other exception (a bug, not a handler failure: those are outcomes) → log and requeue.

So a user's cancel and a shutdown, which both reach the body as ``CancelledError``, are told
apart here and only here: a shutdown gives the message back, a cancel ends it.

Store outages do not reach here: the processing code retries them while holding the delivery
(see ``consumer.worker``), so an outage does not burn the broker's delivery limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from shared.ports import Delivered, DeliveryUnavailable

log = logging.getLogger(__name__)


class UserStop(Protocol):
    """Whether a user cancelled the delivery's message, and how to record it."""

    @property
    def requested(self) -> bool:
        """True once a user asked this message to stop."""

    async def write(self) -> None:
        """Write ``CANCELLED`` (conditional on still holding the message; retries store
        outages). Never raises except ``CancelledError``."""


async def _requeue(delivery: Delivered) -> None:
    try:
        await delivery.requeue()
    except DeliveryUnavailable as exc:
        # The channel is gone: the broker requeues unsettled deliveries by itself.
        log.info("requeue of %s not sent (%s); the broker will redeliver", delivery.message_id, exc)


async def _ack(delivery: Delivered) -> None:
    try:
        await delivery.ack()
    except DeliveryUnavailable as exc:
        # The final status is written; a redelivery will find it final and be acked.
        log.info("ack of %s not sent (%s)", delivery.message_id, exc)


async def _cancel(delivery: Delivered, stop: UserStop) -> None:
    await stop.write()
    await _ack(delivery)


@asynccontextmanager
async def settlement(delivery: Delivered, stop: UserStop | None = None) -> AsyncIterator[None]:
    """Settle ``delivery`` exactly once according to how the body ends (``stop``: tells a
    user's cancel from a shutdown)."""
    try:
        yield
    except asyncio.CancelledError:
        if stop is not None and stop.requested:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await asyncio.shield(_cancel(delivery, stop))
            return
        await asyncio.shield(_requeue(delivery))
        raise
    except Exception:
        log.exception(
            "unexpected failure processing %s on %s; requeued", delivery.message_id, delivery.queue
        )
        await _requeue(delivery)
        return
    await _ack(delivery)
