"""The one way a state change reaches the clients waiting on a message.

Every path that changes a record a client may be waiting on (a consumer's claim, progress,
retry, release or final write; a delete, redrive or cancel from the gateway or from
``ctx.messaging``) calls :class:`Announcer` after the write: :meth:`Announcer.final` wakes
``GET /{queue}/{id}?wait=N`` long polls and event streams, :meth:`Announcer.changed` event
streams only (a change that is not final). Each wakes this process's waiters (its
:class:`shared.service.notify.Notifier`) and publishes an event for every other process.

A gateway calls :meth:`Announcer.listen` once, so other processes' events wake its waiters.
Each change wakes a process once: where events are in-process
(:attr:`shared.ports.CompletionEvents.hears_itself`), a listening process is woken by the
publish itself, and where they cross a broker a process drops its own events when they come
back, having woken its waiters already. Events are best effort: a lost one only delays a
waiter until its store re-check (``shared.service.notify``).
"""

from __future__ import annotations

from shared.domain.message import MessageRecord
from shared.ports import CompletionEvents
from shared.service.notify import Notifier


class Announcer:
    """Wakes waiters here at once and in every other process through ``events``."""

    def __init__(self, notifier: Notifier, events: CompletionEvents) -> None:
        self._notifier = notifier
        self._events = events
        #: True once :meth:`listen` subscribed this process to the events.
        self._listening = False

    @property
    def _woken_by_publish(self) -> bool:
        return self._listening and self._events.hears_itself

    async def listen(self) -> None:
        """Let other processes' events (and, in-process, this one's) wake this process's
        waiters. Raises DeliveryUnavailable if the subscription cannot be made."""
        notifier = self._notifier
        await self._events.subscribe_completions(
            lambda _queue, message_id, carried: notifier.notify(message_id, carried)
        )
        await self._events.subscribe_changes(
            lambda _queue, message_id: notifier.notify_change(message_id)
        )
        self._listening = True

    async def final(self, queue: str, message_id: str, record: MessageRecord | None = None) -> None:
        """``message_id`` is final or gone (deleted): wake its long polls and event streams
        everywhere. Call after the write. Never raises.

        ``record``: the final record exactly as the write left it (``Claims.finish_record``),
        which waiters may answer without reading the store (``shared.service.carried``);
        None for a delete, or when the writer does not have it. A record holding a traceback
        is never put in an event (a failure's traceback stays in the store, for admins
        only): those waiters read the store."""
        if record is not None and record.error is not None and record.error.traceback:
            record = None
        if not self._woken_by_publish:
            self._notifier.notify(message_id, None if record is None else (lambda: record))
        await self._events.publish_event(queue, message_id, record=record)

    async def changed(self, queue: str, message_id: str) -> None:
        """``message_id`` changed but is not final: wake its event streams everywhere. Call
        after the write. Never raises."""
        if not self._woken_by_publish:
            self._notifier.notify_change(message_id)
        await self._events.publish_event(queue, message_id, final=False)
