"""What a handler receives as ``ctx`` (public API: ``from conveyor import Context``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from shared.domain.message import Json
from shared.domain.progress import checked
from shared.queues.client_tokens import ClientAuth
from shared.service import Messaging, Start
from shared.service.scheduler import Scheduler

#: The idempotency scope of keys that handlers pass to :meth:`HandlerMessaging.push`.
HANDLER_CALLER = "handler"

#: ``ctx.progress(fraction, note=None)``.
ProgressFn = Callable[..., None]


def ignore_progress(fraction: float, note: str | None = None) -> None:
    """``ctx.progress`` where nothing records it (a ``ctx`` built outside a consumer run):
    checks the value like the real one (ValueError), then drops it."""
    checked(fraction, note)


class HandlerMessaging:
    """``ctx.messaging``: push, get, delete, redrive and cancel messages on any queue.

    The same service the HTTP API uses: pushes are validated against the target queue's
    schema exactly as over HTTP. Errors are those of ``conveyor.errors`` (``UnknownQueue``,
    ``ValidationFailed``, ``Unavailable``, ``NotFound``, ``Conflict``, ...). Records are
    returned as the same JSON documents the HTTP API returns.
    """

    def __init__(self, messaging: Messaging, scheduler: Scheduler | None = None) -> None:
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
        """Push ``message`` onto ``queue``; the new record.

        With ``idempotency_key``, a second push with the same key (by any handler, within
        the key's 24 h) returns the first push's record instead of making a new message.
        ``delay`` (seconds) or ``not_before`` (an aware datetime): start no earlier
        (``DelayTooLong`` past the target queue's ``max_delay_seconds``).
        """
        target = self._messaging.queue(queue)
        start = Start(delay, not_before) if delay is not None or not_before is not None else None
        pushed = await self._messaging.push(
            target, message, idempotency_key=idempotency_key, caller=HANDLER_CALLER, start=start
        )
        return pushed.record.to_public()

    async def get(
        self, queue: str, message_id: str, *, wait: float | None = None
    ) -> dict[str, Json] | None:
        """The record of ``message_id`` on ``queue``, or None.

        With ``wait`` seconds: once it is final (or deleted), at the latest after ``wait``.
        """
        record = await self._messaging.get(self._messaging.queue(queue), message_id, wait=wait)
        return record.to_public() if record else None

    async def delete(self, queue: str, message_id: str) -> bool:
        """Delete a message; True if it existed."""
        return await self._messaging.delete(self._messaging.queue(queue), message_id)

    async def redrive(self, queue: str, message_id: str) -> dict[str, Json]:
        """Run an ``ERROR`` message again from scratch; its ``PENDING`` record."""
        record = await self._messaging.redrive(self._messaging.queue(queue), message_id)
        return record.to_public()

    async def schedules(self, queue: str) -> list[dict[str, Json]]:
        """The cron schedules of ``queue`` as ``GET /queues`` shows them (``next_run``,
        ``last_message_id``, ...); ``[]`` when it has none."""
        name = self._messaging.queue(queue).name
        if self._scheduler is None:
            return []
        return (await self._scheduler.statuses()).get(name, [])

    async def cancel(self, queue: str, message_id: str) -> dict[str, Json]:
        """Cancel a message; its record: ``CANCELLED`` if it was waiting, else still
        ``INPROGRESS`` with ``cancel_requested`` true (it ends ``CANCELLED`` when its handler
        stops). ``NotFound``; ``Conflict`` when it is already final."""
        done = await self._messaging.cancel(self._messaging.queue(queue), message_id)
        return done.record.to_public()


class CancelFlag(asyncio.Event):
    """``ctx.cancelled``: set when a user cancels the running message.

    An :class:`asyncio.Event` for async handlers (``await ctx.cancelled.wait()``); the
    handler's task is cancelled as well. For a sync handler, whose thread cannot be stopped,
    :meth:`is_set` is safe to call from its thread, and :meth:`wait_sync` sleeps there until
    the flag is set (or ``timeout`` seconds pass). Set only by Conveyor, on the event loop.
    """

    def __init__(self) -> None:
        super().__init__()
        # A threading.Event costs a Condition and locks; one is made only for a sync handler
        # that calls wait_sync (every message gets a CancelFlag). is_set reads one attribute,
        # which is safe from any thread.
        self._threads: threading.Event | None = None

    #: Guards ``_threads`` of every flag (taken only by ``set``, ``clear`` and ``wait_sync``,
    #: rarely: one lock for all rather than one more object per message).
    _lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._lock:
            if self._threads is not None:
                self._threads.set()

    def clear(self) -> None:
        super().clear()
        with self._lock:
            if self._threads is not None:
                self._threads.clear()

    def wait_sync(self, timeout: float | None = None) -> bool:
        """Block the calling (non-event-loop) thread until set; True if it is set."""
        with self._lock:
            if self._threads is None:
                self._threads = threading.Event()
                if super().is_set():
                    self._threads.set()
            threads = self._threads
        return threads.wait(timeout)


@dataclass(frozen=True, slots=True)
class Context:
    """The second argument of ``handle(message, ctx)``.

    ``attempt`` is 1 on the first run. ``log`` is a logger bound to the message (its lines
    carry the message id, queue and attempt). ``http`` is one shared aiohttp session: do not
    close it. ``services`` holds what ``handlers/services.py`` registered.

    ``progress(fraction, note=None)`` records how far the run is (``fraction`` from 0 to 1,
    else ValueError; ``note`` a short text) on the record, for ``GET`` and the event stream
    (``GET /{queue}/{id}/events``). It returns at once, never waiting for the store, and is
    safe from a sync handler's thread; writes are rate-limited to a few a second and the last
    report always lands before the final status. Calls after the run ended are ignored.
    """

    id: str
    queue: str
    attempt: int
    log: logging.LoggerAdapter[logging.Logger]
    messaging: HandlerMessaging
    http: aiohttp.ClientSession
    services: Mapping[str, Any]
    auth: ClientAuth
    #: The ``X-Request-Id`` of the HTTP request that pushed the message (None if unknown).
    request_id: str | None = None
    progress: ProgressFn = ignore_progress
    #: Set when a user cancels this message while it runs (see :class:`CancelFlag`).
    cancelled: CancelFlag = field(default_factory=CancelFlag)
