"""``ctx.messaging``: its public type (:class:`Messaging`) and the one Conveyor passes.

Handlers type against :class:`Messaging`, a :class:`~typing.Protocol`: a run under Conveyor
gets :class:`HandlerMessaging` (the service the HTTP API uses), a unit test gets
``conveyor.testing.FakeMessaging`` (in memory). Both return records as the JSON documents
the HTTP API returns to a caller without an admin role (``error`` is ``{"type", "message"}``:
a handler is never shown another message's ``error.traceback``) and raise the errors of
``conveyor.errors``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.domain.message import Json
from shared.service import Messaging as Service
from shared.service import Start
from shared.service.scheduler import Scheduler

#: The idempotency scope of keys that handlers pass to :meth:`Messaging.push`.
HANDLER_CALLER = "handler"


class Messaging(Protocol):
    """``ctx.messaging``: push, get, delete, redrive and cancel messages on any queue.

    Pushes are validated against the target queue's schema exactly as over HTTP. Records
    are the JSON documents the HTTP API returns. Errors are those of ``conveyor.errors``:
    ``UnknownQueue`` for a queue that is not loaded, ``Unavailable`` when the store or the
    broker is down (worth retrying), and per method as listed.
    """

    async def push(
        self,
        queue: str,
        message: Json,
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        not_before: datetime | None = None,
    ) -> dict[str, Json]:
        """Push ``message`` onto ``queue``; the new ``PENDING`` record.

        With ``idempotency_key``, a second push with the same key (by any handler, within
        the key's 24 h) returns the first push's record instead of making a new message
        (``KeyReused`` if the body differs, ``KeyInProgress`` while the first push runs).
        ``delay`` (seconds) or ``not_before`` (an aware datetime): start no earlier
        (``DelayTooLong`` past the target queue's ``max_delay_seconds``). Raises
        ``ValidationFailed`` (``.errors`` lists the violations) and ``TooLarge``.
        """
        ...

    async def get(
        self, queue: str, message_id: str, *, wait: float | None = None
    ) -> dict[str, Json] | None:
        """The record of ``message_id`` on ``queue``, or None.

        With ``wait`` seconds: once it is final (or deleted), at the latest after ``wait``.
        """
        ...

    async def delete(self, queue: str, message_id: str) -> bool:
        """Delete a message; True if it existed."""
        ...

    async def redrive(self, queue: str, message_id: str) -> dict[str, Json]:
        """Run an ``ERROR`` message again from scratch; its ``PENDING`` record.

        ``NotFound``; ``Conflict`` when it is not ``ERROR``."""
        ...

    async def schedules(self, queue: str) -> list[dict[str, Json]]:
        """The cron schedules of ``queue`` as ``GET /queues`` shows them (``next_run``,
        ``last_message_id``, ...); ``[]`` when it has none."""
        ...

    async def cancel(self, queue: str, message_id: str) -> dict[str, Json]:
        """Cancel a message; its record: ``CANCELLED`` if it was waiting, else still
        ``INPROGRESS`` with ``cancel_requested`` true (it ends ``CANCELLED`` when its handler
        stops). ``NotFound``; ``Conflict`` when it is already final."""
        ...


class HandlerMessaging:
    """The :class:`Messaging` of a run under Conveyor: the messaging service, with the
    handlers' own idempotency scope (:data:`HANDLER_CALLER`)."""

    def __init__(self, messaging: Service, scheduler: Scheduler | None = None) -> None:
        self._messaging = messaging
        self._scheduler = scheduler

    async def push(
        self,
        queue: str,
        message: Json,
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        not_before: datetime | None = None,
    ) -> dict[str, Json]:
        """See :meth:`Messaging.push`."""
        target = self._messaging.queue(queue)
        start = Start(delay, not_before) if delay is not None or not_before is not None else None
        pushed = await self._messaging.push(
            target, message, idempotency_key=idempotency_key, caller=HANDLER_CALLER, start=start
        )
        return pushed.record.to_public()

    async def get(
        self, queue: str, message_id: str, *, wait: float | None = None
    ) -> dict[str, Json] | None:
        """See :meth:`Messaging.get`."""
        record = await self._messaging.get(self._messaging.queue(queue), message_id, wait=wait)
        return record.to_public() if record else None

    async def delete(self, queue: str, message_id: str) -> bool:
        """See :meth:`Messaging.delete`."""
        return await self._messaging.delete(self._messaging.queue(queue), message_id)

    async def redrive(self, queue: str, message_id: str) -> dict[str, Json]:
        """See :meth:`Messaging.redrive`."""
        record = await self._messaging.redrive(self._messaging.queue(queue), message_id)
        return record.to_public()

    async def schedules(self, queue: str) -> list[dict[str, Json]]:
        """See :meth:`Messaging.schedules`."""
        name = self._messaging.queue(queue).name
        if self._scheduler is None:
            return []
        return (await self._scheduler.statuses()).get(name, [])

    async def cancel(self, queue: str, message_id: str) -> dict[str, Json]:
        """See :meth:`Messaging.cancel`."""
        done = await self._messaging.cancel(self._messaging.queue(queue), message_id)
        return done.record.to_public()
