"""What happens around a message's final write: its expiry date and the completion event.

:func:`with_expiry` stamps an :class:`Outcome` with ``expires_at`` from the queue's
``result_ttl_seconds`` (None: kept forever). :func:`announce` wakes the clients waiting on
the message (``GET /{queue}/{id}?wait=N``): this process's :class:`shared.notify.Notifier`
directly, and, when delivery is a broker, every other gateway through
``Delivery.publish_event`` (best effort). :func:`sweep_expired_forever` deletes expired
records from stores that do not expire them by themselves (SQLite).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta

from shared.ports import Outcome, StoreUnavailable
from shared.records import utcnow
from shared.runtime import Runtime

log = logging.getLogger(__name__)

#: Seconds between two deletions of expired records (SQLite; MongoDB has a TTL index).
EXPIRY_SWEEP_SECONDS = 2.0


def with_expiry(outcome: Outcome, ttl: float | None, now: datetime | None = None) -> Outcome:
    """``outcome`` expiring ``ttl`` seconds after ``now`` (default: the current time)."""
    if ttl is None:
        return outcome
    return dataclasses.replace(outcome, expires_at=(now or utcnow()) + timedelta(seconds=ttl))


def queue_ttl(rt: Runtime, queue: str) -> float | None:
    """The ``result_ttl_seconds`` of ``queue`` (None when unset or unknown)."""
    loaded = rt.registry().get(queue)
    return loaded.definition.options.result_ttl_seconds if loaded else None


async def announce(rt: Runtime, queue: str, message_id: str) -> None:
    """Wake waiters of ``message_id``, here and (with a broker) in every gateway. No raise."""
    rt.notifier.notify(message_id)
    if not rt.embedded_delivery:
        await rt.delivery.publish_event(queue, message_id)


async def sweep_expired_forever(rt: Runtime, every: float = EXPIRY_SWEEP_SECONDS) -> None:
    """Delete expired final records every ``every`` seconds until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            deleted = await rt.store.delete_expired(utcnow())
        except StoreUnavailable as exc:
            log.warning("expiry sweep failed: %s", exc)
            continue
        if deleted:
            log.info("deleted %d expired messages", deleted)
