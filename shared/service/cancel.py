"""Cancelling a message: the service side of ``POST /{queue}/{id}/cancel`` (its HTTP side,
the same concept one layer up, is ``gateway.routes.cancel``) and ``ctx.messaging.cancel``.

One store transition decides (``Claims.cancel``):

- ``PENDING`` (also delayed, or waiting for a retry) → ``CANCELLED`` at once: it never runs
  (a delivery still in the broker finds it final and is acked unrun). Waiters
  (``?wait=``) wake here and, through the completion events, in every gateway;
- ``INPROGRESS`` → ``cancel_requested`` is set in the store and a cancel signal goes out on
  the control channel (``CancelSignals``); the consumer holding the lease stops the handler
  and writes ``CANCELLED`` (``consumer.worker``). A consumer that misses the signal sees the
  flag at its next lease renewal; one that claims the message later cancels it unrun;
- final (``COMPLETE``, ``ERROR``, ``CANCELLED``) → :class:`Conflict`; unknown → :class:`NotFound`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.message import MessageRecord, utcnow
from shared.queues.registry import LoadedQueue
from shared.service.errors import Conflict, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A cancel's record; ``requested`` is True when the message was running and has only
    been asked to stop (it ends ``CANCELLED`` when its handler stops)."""

    record: MessageRecord
    requested: bool = False


def expiry(queue: LoadedQueue) -> datetime | None:
    """When a message cancelled now may be deleted (the queue's ``result_ttl_seconds``)."""
    ttl = queue.definition.options.result_ttl_seconds
    return utcnow() + timedelta(seconds=ttl) if ttl is not None else None


def not_found(queue: LoadedQueue, message_id: str) -> NotFound:
    """The error for an unknown message."""
    return NotFound(f"no message {message_id} on queue {queue.name}")


def already_final(record: MessageRecord) -> Conflict:
    """The error for a cancel of a message that is already final."""
    return Conflict(
        f"message {record.id} is {record.status.value}; only PENDING or INPROGRESS messages "
        "can be cancelled"
    )


def logged(cancelled: Cancelled) -> Cancelled:
    """Log the cancel (one INFO line) and pass it on."""
    record = cancelled.record
    log.info(
        "message %s on %s %s",
        record.id,
        record.queue,
        "asked to stop (cancel requested)" if cancelled.requested else "cancelled",
        extra={"message_id": record.id, "queue": record.queue},
    )
    return cancelled
