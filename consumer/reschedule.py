"""Writing a retry: record first, then the delayed re-delivery.

Order matters. :func:`schedule_retry` first puts the record back to ``PENDING`` with its
due time (``not_before``), the last error and ``published = false``; only then does it hand
the message to the delivery channel to come back later (``Dispatcher.send`` with a delay: a
timer in-process, a TTL delay queue on RabbitMQ), and the caller acks the current delivery.
So a waiting retry is never held unacked by a consumer. If the consumer dies between the two
steps, the record is an unpublished ``PENDING`` one: the recovery sweep (distributed) or the
start-up recovery (embedded) delivers it, and its claim is ``DEFERRED`` until it is due.

:func:`defer` handles such early deliveries: it sends the message back to wait the rest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.domain.message import PARKED_UNTIL, ErrorInfo, MessageRecord, utcnow
from shared.ports import Claims, MessageRef
from shared.service.dispatch import Dispatcher

log = logging.getLogger(__name__)


async def send_at(dispatch: Dispatcher, ref: MessageRef, due: datetime) -> None:
    """Have the delivery channel bring the message back at ``due`` (recovery if it fails)."""
    delay = max(0.0, (due - utcnow()).total_seconds())
    await dispatch.send_or_leave(ref, delay=delay)


async def schedule_retry(
    claims: Claims,
    dispatch: Dispatcher,
    record: MessageRecord,
    owner: str,
    error: ErrorInfo,
    delay: float,
) -> bool:
    """Record the retry (PENDING, due in ``delay`` s), then schedule its delivery.

    False (nothing scheduled) when the record was deleted or taken over meanwhile. Raises
    StoreUnavailable from the record write (the caller retries it).
    """
    due = utcnow() + timedelta(seconds=delay)
    if not await claims.schedule_retry(record.queue, record.id, owner, error, due):
        return False
    log.info(
        "message %s queue=%s attempt=%d failed (%s); retry in %.2fs",
        record.id,
        record.queue,
        record.attempts,
        error.type,
        delay,
        extra={"message_id": record.id, "queue": record.queue, "attempt": record.attempts},
    )
    await send_at(dispatch, MessageRef(record.queue, record.id), due)
    return True


async def defer(dispatch: Dispatcher, ref: MessageRef, due: datetime) -> None:
    """A delivery arrived before its retry is due: send it back to wait the rest. A parked
    record's delivery (a duplicate) is dropped: the resume delivers it again."""
    if due >= PARKED_UNTIL:
        return
    log.debug("message %s on %s is not due until %s; deferred", ref.id, ref.queue, due)
    await send_at(dispatch, ref, due)
