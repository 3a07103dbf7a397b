"""Waiting for a message to finish (``GET /{queue}/{id}?wait=N``, ``ctx.messaging.get(wait=)``).

:func:`wait_for_final` registers with the process's :class:`shared.service.notify.Notifier` and
re-reads the record each time it is woken (a completion or delete event) or every
``RECHECK_SECONDS`` (the safety net for a lost event), until it is final or gone or the time
is over. The caller's own task is the only task per waiter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shared.domain.message import MessageRecord
from shared.service.notify import Notifier

#: The longest wait a caller may ask for, in seconds.
MAX_WAIT_SECONDS = 60.0


async def wait_for_final(
    notifier: Notifier,
    message_id: str,
    read: Callable[[], Awaitable[MessageRecord | None]],
    seconds: float,
) -> MessageRecord | None:
    """The record (``read()``) once final or deleted (None), or as it is after ``seconds``.

    Raises what ``read`` raises.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with notifier.watching(message_id):
        while True:
            event = notifier.current(message_id)  # before reading: no wake-up is missed
            record = await notifier.read_once(event, read)
            left = deadline - loop.time()
            if record is None or record.status.final or left <= 0 or notifier.closed:
                return record
            await notifier.wait(event, left)
