"""The messaging core: push, get and delete messages on named queues.

Used by the HTTP gateway and by handlers (``ctx.messaging``), so both validate the same way.
Authentication and role checks are the caller's job (the gateway does them before reading
the body); this layer trusts its caller.

The write path: validate → record ``PENDING`` → publish (returns once durably accepted) →
answer. If the publish fails the record is deleted again and :class:`Unavailable` is raised,
so a message is either accepted (recorded and delivered) or not at all. A crash between the
record and the publish is repaired by the consumers' recovery sweep (``consumer.sweep``),
which republishes old ``PENDING`` records that were never marked published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared.ports import (
    Delivery,
    DeliveryUnavailable,
    MessageRef,
    Store,
    StoreRejected,
    StoreUnavailable,
)
from shared.records import Json, MessageRecord
from shared.registry import Registry
from shared.validation import validation_errors

log = logging.getLogger(__name__)


class MessagingError(Exception):
    """Base of the errors the messaging core reports to its callers."""


class UnknownQueue(MessagingError):
    """No queue of that name is loaded."""


@dataclass
class ValidationFailed(MessagingError):
    """The message breaks the queue's schema; ``errors`` lists every violation."""

    errors: list[dict[str, str]]


class TooLarge(MessagingError):
    """The store refuses a message this large."""


class Unavailable(MessagingError):
    """The store or delivery could not take the message; nothing was left half-written."""


class Messaging:
    """Push/get/delete over a store and a delivery channel."""

    def __init__(
        self,
        registry: Callable[[], Registry],
        store: Store,
        delivery: Delivery,
        on_published: Callable[[MessageRef], None] | None = None,
    ) -> None:
        """``registry`` is called per operation so a reloaded registry takes effect."""
        self._registry = registry
        self._store = store
        self._delivery = delivery
        self._on_published = on_published

    def _queue(self, name: str) -> None:
        if self._registry().get(name) is None:
            raise UnknownQueue(name)

    def validate(self, queue: str, message: Json) -> None:
        """Raise UnknownQueue or ValidationFailed unless ``message`` fits ``queue``."""
        loaded = self._registry().get(queue)
        if loaded is None:
            raise UnknownQueue(queue)
        errors = validation_errors(loaded.definition.validator, message)
        if errors:
            raise ValidationFailed(errors)

    async def push(self, queue: str, message: Json) -> MessageRecord:
        """Validate, record and deliver ``message``; the ``PENDING`` record on success."""
        self.validate(queue, message)
        record = MessageRecord.new(queue, message)
        try:
            await self._store.insert(record)
        except StoreUnavailable as exc:
            log.warning("store refused message on %s: %s", queue, exc)
            raise Unavailable("the message store is unavailable") from None
        except StoreRejected as exc:
            raise TooLarge(f"the store refuses this message: {exc}") from None
        try:
            await self._delivery.publish(queue, record.id)
        except DeliveryUnavailable as exc:
            log.warning("publish of %s on %s failed, undoing record: %s", record.id, queue, exc)
            await self._undo(record)
            raise Unavailable("message delivery is unavailable") from None
        if self._on_published is not None:
            self._on_published(MessageRef(queue, record.id))
        return record

    async def _undo(self, record: MessageRecord) -> None:
        try:
            await self._store.delete(record.queue, record.id)
        except StoreUnavailable:
            # The record stays PENDING and unpublished; the recovery sweep will deliver it.
            log.error(
                "could not undo record %s on %s; the sweep will deliver it", record.id, record.queue
            )

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        """The record, or None. Raises UnknownQueue, Unavailable."""
        self._queue(queue)
        try:
            return await self._store.get(queue, message_id)
        except StoreUnavailable:
            raise Unavailable("the message store is unavailable") from None

    async def delete(self, queue: str, message_id: str) -> bool:
        """Delete the record; True if it existed. A deleted PENDING message never runs."""
        self._queue(queue)
        try:
            return await self._store.delete(queue, message_id)
        except StoreUnavailable:
            raise Unavailable("the message store is unavailable") from None
