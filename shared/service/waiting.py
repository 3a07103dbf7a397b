"""Waiting for a message to finish (``GET /{queue}/{id}?wait=N``, ``POST /{queue}?wait=N``,
``ctx.messaging.get(wait=)``).

:func:`wait_for_final` registers with the process's :class:`shared.service.notify.Notifier` and
re-reads the record each time it is woken (a completion or delete event; a completion that
carried the final record is answered as is, ``shared.service.carried``) or every
``RECHECK_SECONDS`` (the safety net for a lost event), until it is final or gone or the time
is over. The caller's own task is the only task per waiter. :func:`settle` and
:func:`settle_all` wait on records a push has just written.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence

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

    ``read`` always runs at least once, after registering: a change written before the call
    is in what it returns, whenever the caller came to wait. Raises what ``read`` raises.
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
            carried = notifier.carried(record.queue, message_id, record.version)
            if carried is not None:  # exact: see shared.service.carried
                return carried


async def settle(
    notifier: Notifier,
    record: MessageRecord,
    read: Callable[[], Awaitable[MessageRecord | None]],
    seconds: float,
) -> MessageRecord:
    """``record``, just pushed, as it is once final, at the latest after ``seconds`` (or at
    once when the gateway shuts down: :meth:`Notifier.close`); ``record`` itself if it was
    deleted meanwhile. Raises what ``read`` raises.

    Registering only now, after the push returned, misses no completion: :func:`wait_for_final`
    takes the notifier's event *before* its first read. A final write that landed before that
    read (even before the push returned) is in the record it reads; one that lands after it is
    announced after the write (``shared.service.announce``), so after the event was taken, and
    sets it. Registering before the publish would only save that first read.
    """
    if record.status.final:
        return record
    waited = await wait_for_final(notifier, record.id, read, seconds)
    return record if waited is None else waited


async def settle_all(
    notifier: Notifier,
    records: Sequence[MessageRecord],
    read: Callable[[str], Awaitable[MessageRecord | None]],
    seconds: float,
) -> list[MessageRecord]:
    """Each of ``records`` as :func:`settle` answers it, all within one ``seconds``.

    They are waited on one after the other (in the caller's task) against one deadline; once it
    has passed each of the rest is read once as it is then. One waiting on an earlier record
    misses nothing of a later one: that one's own wait starts with a read.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    return [
        await settle(
            notifier, record, functools.partial(read, record.id), max(0.0, deadline - loop.time())
        )
        for record in records
    ]
