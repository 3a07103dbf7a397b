"""Long polling: ``GET /{queue}/{id}?wait=N``.

Waiting: the view reads the record as usual; if ``wait`` is given and the record is not final,
:func:`wait_for_final` registers with the process's :class:`shared.notify.Notifier` and
re-reads the record each time it is woken (a completion or delete event) or every
``RECHECK_SECONDS`` (the safety net for a lost event), until it is final or gone or the
``wait`` seconds are over. The request's own task is the only task per waiter.
"""

from __future__ import annotations

import asyncio
import math

from aiohttp import web

from gateway.errors import ApiError
from shared.records import MessageRecord
from shared.runtime import Runtime

MAX_WAIT_SECONDS = 60.0


def wait_seconds(request: web.Request) -> float | None:
    """The ``wait`` query parameter: None if absent; 400 unless 0 < N <= 60."""
    raw = request.query.get("wait")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_WAIT_SECONDS):
        raise ApiError(400, f"wait must be a number of seconds > 0 and <= 60, not {raw!r}")
    return value


async def wait_for_final(
    rt: Runtime, queue: str, message_id: str, seconds: float
) -> MessageRecord | None:
    """The record once final (or deleted: None), or as it is after ``seconds``.

    Raises ``Unavailable``/``UnknownQueue`` like ``Messaging.get``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    notifier = rt.notifier
    async with notifier.watching(message_id):
        while True:
            event = notifier.current(message_id)  # before reading: no wake-up is missed
            record = await notifier.read_once(event, lambda: rt.messaging.get(queue, message_id))
            left = deadline - loop.time()
            if record is None or record.status.final or left <= 0:
                return record
            await notifier.wait(event, left)
