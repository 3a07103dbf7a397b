"""Following one message's changes (``GET /{queue}/{id}/events``).

:func:`watch_changes` registers with the process's :class:`shared.service.notify.Notifier` and
re-reads the record whenever it is woken by a change or a completion (from this process's
consumer, or from any consumer through the events fanout), or every ``RECHECK_SECONDS`` (the
safety net for a lost event). It yields the record each time its ``version`` is newer than
the last one yielded, so a reader never gets the same version twice; changes that land
between two reads are coalesced into the newer one (the record is the authority, events
only say "look again"). The final status is always yielded, once.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncGenerator, Awaitable, Callable

from shared.domain.message import MessageRecord
from shared.service.notify import Notifier


class Tick(enum.Enum):
    """What :func:`watch_changes` yields besides records."""

    #: Nothing new for ``heartbeat`` seconds (a stream sends a comment to keep proxies open).
    HEARTBEAT = "heartbeat"
    #: The record was deleted; nothing follows.
    GONE = "gone"


async def watch_changes(
    notifier: Notifier,
    message_id: str,
    read: Callable[[], Awaitable[MessageRecord | None]],
    *,
    after: int | None,
    heartbeat: float,
    max_seconds: float,
) -> AsyncGenerator[MessageRecord | Tick, None]:
    """The record as it changes, from now on.

    Yields the current record at once if its version is newer than ``after`` (None: always),
    then every newer version it reads, and :data:`Tick.HEARTBEAT` after each ``heartbeat``
    seconds without one. Ends once a final record was yielded (or is final and not newer than
    ``after``: the reader has it), after yielding :data:`Tick.GONE` when the record is
    deleted, after ``max_seconds``, or when the notifier closes (the gateway shuts down).
    Raises what ``read`` raises.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    quiet_since = loop.time()
    last = after
    async with notifier.watching(message_id):
        while True:
            event = notifier.current_change(message_id)  # before reading: nothing is missed
            record = await notifier.read_once(event, read)
            if record is None:
                yield Tick.GONE
                return
            if last is None or record.version > last:
                last = record.version
                quiet_since = loop.time()
                yield record
            if record.status.final or notifier.closed:
                return
            now = loop.time()
            if now >= deadline:
                return
            if now - quiet_since >= heartbeat:
                quiet_since = now
                yield Tick.HEARTBEAT
            await notifier.wait(event, min(deadline, quiet_since + heartbeat) - now)
