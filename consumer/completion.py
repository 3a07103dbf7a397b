"""What happens around a message's final write: its expiry date.

:func:`with_expiry` stamps an :class:`Outcome` with ``expires_at`` from the queue's
``result_ttl_seconds`` (None: kept forever); the write is then announced to waiters by
``shared.service.announce.Announcer``. :func:`sweep_expired_forever` deletes expired records from
stores that do not expire them by themselves (SQLite).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta

from shared.domain.message import utcnow
from shared.ports import Outcome, Recovery, StoreUnavailable

log = logging.getLogger(__name__)

#: Seconds between two deletions of expired records (SQLite; MongoDB has a TTL index).
EXPIRY_SWEEP_SECONDS = 2.0


def with_expiry(outcome: Outcome, ttl: float | None, now: datetime | None = None) -> Outcome:
    """``outcome`` expiring ``ttl`` seconds after ``now`` (default: the current time)."""
    if ttl is None:
        return outcome
    return dataclasses.replace(outcome, expires_at=(now or utcnow()) + timedelta(seconds=ttl))


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
