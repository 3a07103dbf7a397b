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
from collections.abc import Callable, Sequence
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

    async def push(
        self,
        queue: str,
        message: Json,
        *,
        request_id: str | None = None,
        message_id: str | None = None,
    ) -> MessageRecord:
        """Validate, record and deliver ``message``; the ``PENDING`` record on success.

        ``request_id`` (the pushing HTTP request's id) is kept on the record for tracing.
        ``message_id``: the id to give the record (default a fresh one).
        """
        self.validate(queue, message)
        record = MessageRecord.new(queue, message, message_id, request_id=request_id)
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
        log.debug(
            "message %s queue=%s pushed request_id=%s",
            record.id,
            queue,
            request_id,
            extra={"message_id": record.id, "queue": queue, "request_id": request_id},
        )
        return record

    async def _undo(self, record: MessageRecord) -> None:
        try:
            await self._store.delete(record.queue, record.id)
        except StoreUnavailable:
            # The record stays PENDING and unpublished; the recovery sweep will deliver it.
            log.error(
                "could not undo record %s on %s; the sweep will deliver it", record.id, record.queue
            )

    async def push_many(
        self, queue: str, messages: Sequence[Json], *, request_id: str | None = None
    ) -> list[MessageRecord | MessagingError]:
        """Push each message on its own, with one store batch and one delivery window.

        Per message, in order: its ``PENDING`` record, or the ValidationFailed, TooLarge or
        Unavailable error that kept it out. An item whose record or publish failed is
        removed again (no orphans). Raises UnknownQueue.
        """
        self._queue(queue)
        results: list[MessageRecord | MessagingError] = []
        for message in messages:
            try:
                self.validate(queue, message)
                results.append(MessageRecord.new(queue, message, request_id=request_id))
            except ValidationFailed as exc:
                results.append(exc)
        records = [r for r in results if isinstance(r, MessageRecord)]
        failed = await self._record_and_publish(queue, records)
        return [failed.get(r.id, r) if isinstance(r, MessageRecord) else r for r in results]

    async def _record_and_publish(
        self, queue: str, records: list[MessageRecord]
    ) -> dict[str, MessagingError]:
        """Store and publish ``records`` in batches; the errors of those that failed."""
        if not records:
            return {}
        try:
            rejected = set(await self._store.insert_many(records))
        except StoreUnavailable as exc:
            log.warning("store refused a batch on %s: %s", queue, exc)
            for record in records:
                await self._undo(record)
            return {r.id: Unavailable("the message store is unavailable") for r in records}
        errors: dict[str, MessagingError] = {
            i: TooLarge("the store refuses this message") for i in rejected
        }
        stored = [r for r in records if r.id not in rejected]
        unpublished = await self._delivery.publish_many(queue, [r.id for r in stored])
        for record in stored:
            if record.id in unpublished:
                await self._undo(record)
                errors[record.id] = Unavailable("message delivery is unavailable")
            elif self._on_published is not None:
                self._on_published(MessageRef(queue, record.id))
        return errors

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
