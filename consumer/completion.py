"""What happens around a message's final write: its expiry date and the completion event.

:func:`with_expiry` stamps an :class:`Outcome` with ``expires_at`` from the queue's
``result_ttl_seconds`` (None: kept forever). :class:`Announcer` wakes the clients waiting on
the message (``GET /{queue}/{id}?wait=N``): this process's :class:`shared.service.notify.Notifier`
directly, and every gateway through the completion events (best effort); its
:meth:`Announcer.changed` does the same for a change that is not final (a claim, a retry, a
release, a progress report), which only event streams listen to.
:func:`sweep_expired_forever` deletes expired records from stores that do not expire them by
themselves (SQLite).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta

from shared.domain.message import utcnow
from shared.ports import CompletionEvents, Outcome, Recovery, StoreUnavailable
from shared.service.notify import Notifier

log = logging.getLogger(__name__)

#: Seconds between two deletions of expired records (SQLite; MongoDB has a TTL index).
EXPIRY_SWEEP_SECONDS = 2.0


def with_expiry(outcome: Outcome, ttl: float | None, now: datetime | None = None) -> Outcome:
    """``outcome`` expiring ``ttl`` seconds after ``now`` (default: the current time)."""
    if ttl is None:
        return outcome
    return dataclasses.replace(outcome, expires_at=(now or utcnow()) + timedelta(seconds=ttl))


class Announcer:
    """Tells waiters that a message reached its final status (after it was written)."""

    def __init__(self, notifier: Notifier, events: CompletionEvents) -> None:
        self._notifier = notifier
        self._events = events

    async def __call__(self, queue: str, message_id: str) -> None:
        """Wake waiters of ``message_id`` here at once, and in every gateway. Never raises."""
        self._notifier.notify(message_id)
        await self._events.publish_event(queue, message_id)

    async def changed(self, queue: str, message_id: str) -> None:
        """Wake the event streams of ``message_id`` here and in every gateway (after the
        change was written). Never raises."""
        self._notifier.notify_change(message_id)
        await self._events.publish_event(queue, message_id, final=False)


async def sweep_expired_forever(store: Recovery, every: float = EXPIRY_SWEEP_SECONDS) -> None:
    """Delete expired final records every ``every`` seconds until cancelled."""
    while True:
        await asyncio.sleep(every)
        try:
            deleted = await store.delete_expired(utcnow())
        except StoreUnavailable as exc:
            log.warning("expiry sweep failed: %s", exc)
            continue
        if deleted:
            log.info("deleted %d expired messages", deleted)
