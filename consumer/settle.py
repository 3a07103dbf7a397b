"""The one place that decides what happens to a delivery.

Every delivery is processed inside :func:`settlement`:

- the body returns normally (done, or the record was deleted/already final) → ack; a
  failed run with attempts left also returns normally: its retry is already recorded and
  handed to ``Delivery.publish_later`` (``consumer.reschedule``), so this delivery is done
  and no consumer holds a waiting retry;
- ``CancelledError`` (shutdown past the grace period) → requeue for another consumer,
  then re-raise;
- any other exception (a bug, not a handler failure: those are outcomes) → log and requeue.

Store outages do not reach here: the processing code retries them while holding the delivery
(see ``consumer.worker``), so an outage does not burn the broker's delivery limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.ports import Delivered, DeliveryUnavailable

log = logging.getLogger(__name__)


async def _requeue(delivery: Delivered) -> None:
    try:
        await delivery.requeue()
    except DeliveryUnavailable as exc:
        # The channel is gone: the broker requeues unsettled deliveries by itself.
        log.info("requeue of %s not sent (%s); the broker will redeliver", delivery.message_id, exc)


@asynccontextmanager
async def settlement(delivery: Delivered) -> AsyncIterator[None]:
    """Settle ``delivery`` exactly once according to how the body ends."""
    try:
        yield
    except asyncio.CancelledError:
        await asyncio.shield(_requeue(delivery))
        raise
    except Exception:
        log.exception(
            "unexpected failure processing %s on %s; requeued", delivery.message_id, delivery.queue
        )
        await _requeue(delivery)
        return
    try:
        await delivery.ack()
    except DeliveryUnavailable as exc:
        # The final status is written; a redelivery will find it final and be acked.
        log.info("ack of %s not sent (%s)", delivery.message_id, exc)
