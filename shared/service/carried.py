"""Final records carried by completion events, for waiters to answer without a store read.

A consumer's final write returns the record as it left it (``Claims.finish_record``) and the
completion event carries it (``Announcer.final``; across RabbitMQ only when its JSON is at most
``shared.ports.CARRIED_RECORD_MAX_BYTES``, and never a record holding a traceback; else the
event is bare). A woken
``GET /{queue}/{id}?wait=N`` then answers that copy instead of reading the store again, but
only where that is exact. :class:`CarriedCopies` keeps the rules:

- a copy is kept only for a message some waiter in this process watches now, and only while
  one does (nothing is kept for the many completions nobody here waits on);
- any later event for the message (a delete, a cancel, a redrive, any change or another
  completion, with or without a copy) drops it first: a copy is answered only if no change
  after it has been heard;
- a waiter takes it only if it is final, of the waiter's queue and id, and newer (``version``)
  than the record the waiter last read: a late event from before the waiter's read is never
  answered;
- the copy goes through the gateway's role filter like any record read
  (``gateway.auth.record_view``: ``error.traceback`` for admin roles only).

What the waiter answers is then the record as it was at the final write, which happened after
the waiter's own read: as exact as a store read just before that change. One race is left
across processes: a redrive's change event, published by another gateway, could reach this
one before the consumer's completion event it follows (separate publishers); a waiter then
answers the ERROR record that the redrive replaced (as it would have had it read the store
before the redrive) instead of waiting for the new run. A delete cannot race that way: its
event wakes the waiter, which then reads the store.
"""

from __future__ import annotations

from shared.domain.message import MessageRecord
from shared.ports import CarriedRecord


class CarriedCopies:
    """Per watched message id, the final record the last completion event carried."""

    def __init__(self) -> None:
        self._copies: dict[str, MessageRecord] = {}

    def __len__(self) -> int:
        return len(self._copies)

    def heard(self, message_id: str, carried: CarriedRecord | None, watched: bool) -> None:
        """An event for ``message_id``: drop its copy; keep the one ``carried`` (decoded now)
        if it is watched here and the record is final."""
        self._copies.pop(message_id, None)
        if carried is None or not watched:
            return
        record = carried()
        if record is not None and record.id == message_id and record.status.final:
            self._copies[message_id] = record

    def take(self, queue: str, message_id: str, after_version: int) -> MessageRecord | None:
        """The copy of ``message_id`` on ``queue`` if newer than ``after_version``, else None
        (left for the other waiters on it: dropped by :meth:`forget` or the next event)."""
        record = self._copies.get(message_id)
        if record is None or record.queue != queue or record.version <= after_version:
            return None
        return record

    def forget(self, message_id: str) -> None:
        """Nobody here waits on ``message_id`` any longer."""
        self._copies.pop(message_id, None)

    def clear(self) -> None:
        """Drop every copy (shutdown)."""
        self._copies.clear()
