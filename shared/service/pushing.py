"""Pushing messages: the write path of :class:`shared.service.messaging.Messaging`.

Validate → record ``PENDING`` → publish (returns once durably accepted,
``shared.service.dispatch``) → answer. If the publish fails the record is deleted again and
:class:`Unavailable` is raised, so a message is either accepted (recorded and delivered) or
not at all. A crash between the record and the publish is repaired by the consumers'
recovery sweep (``consumer.recovery``), which republishes old ``PENDING`` records that were
never marked published. Idempotent pushes (``Idempotency-Key``) go through
``shared.service.idempotent_push``; a batch records and publishes its messages together.
With ``wait``, a push answers with the record once final, at the latest after ``wait``
seconds as it is then (``shared.service.waiting.settle``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime

from shared.domain.idempotency import body_hash, scope_of
from shared.domain.message import Json, MessageRecord, utcnow
from shared.domain.payloads import validation_errors
from shared.ports import (
    DeliveryUnavailable,
    Keys,
    MessageRef,
    RecordExists,
    Records,
    StoreRejected,
    StoreUnavailable,
)
from shared.queues.registry import LoadedQueue
from shared.service.dispatch import Dispatcher
from shared.service.errors import (
    MessagingError,
    TooLarge,
    Unavailable,
    ValidationFailed,
    store_down,
)
from shared.service.idempotent_push import IdempotentPush, Pushed
from shared.service.notify import Notifier
from shared.service.start_time import Start
from shared.service.waiting import settle, settle_all

log = logging.getLogger("shared.service.messaging")


def _not_before(queue: LoadedQueue, start: Start | None) -> datetime | None:
    if start is None:
        return None
    return start.not_before(utcnow(), queue.definition.options.max_delay_seconds)


def _delay(record: MessageRecord) -> float:
    """Seconds until ``record`` may start (0: now)."""
    if record.not_before is None:
        return 0.0
    return max(0.0, (record.not_before - utcnow()).total_seconds())


class Pushing:
    """Push one message, one idempotently, or a batch (mixed into ``Messaging``, which
    provides the ports below)."""

    _records: Records
    _keys: Keys
    _dispatch: Dispatcher
    _notifier: Notifier

    async def _get(self, queue: str, message_id: str) -> MessageRecord | None:
        try:
            return await self._records.get(queue, message_id)
        except StoreUnavailable:
            raise store_down() from None

    @staticmethod
    def validate(queue: LoadedQueue, message: Json) -> None:
        """Raise ValidationFailed unless ``message`` fits ``queue``'s schema."""
        errors = validation_errors(queue.definition.validator, message)
        if errors:
            raise ValidationFailed(errors)

    async def push(
        self,
        queue: LoadedQueue,
        message: Json,
        *,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        caller: str = "",
        start: Start | None = None,
        wait: float | None = None,
    ) -> Pushed:
        """Validate, record and deliver ``message``; the ``PENDING`` record.

        ``request_id`` (the pushing HTTP request's id) is kept on the record for tracing.
        ``start``: not before then (``shared.service.start_time``; DelayTooLong past the
        queue's ``max_delay_seconds``).
        With ``idempotency_key``, the push happens once per (queue, ``caller``, key) within
        the key's lifetime (``shared.service.idempotent_push``): a repeat returns the original
        record with ``created=False``. With ``wait`` (seconds), the record once it is final,
        at the latest after ``wait`` as it is then (a delayed message: after ``wait``, unless it
        started and finished within it). Raises ValidationFailed, TooLarge, Unavailable, and
        with a key KeyReused, KeyInProgress or Conflict.
        """
        self.validate(queue, message)
        not_before = _not_before(queue, start)
        if idempotency_key is None:
            record = await self._record_and_publish(queue, message, request_id, None, not_before)
            pushed = Pushed(record)
        else:
            once = IdempotentPush(
                self._keys, scope_of(queue.name, caller), idempotency_key, body_hash(message)
            )
            pushed = await once.run(
                lambda message_id: self._record_and_publish(
                    queue, message, request_id, message_id, not_before
                ),
                lambda message_id: self._get(queue.name, message_id),
            )
        if wait is None:
            return pushed
        record = pushed.record
        settled = await settle(
            self._notifier, record, lambda: self._get(queue.name, record.id), wait
        )
        return Pushed(settled, pushed.created)

    async def push_once(
        self, queue: LoadedQueue, message: Json, message_id: str, *, request_id: str | None = None
    ) -> MessageRecord | None:
        """Push ``message`` under ``message_id`` unless a message with that id exists.

        The new ``PENDING`` record, or None when the id exists (nothing written: the store
        refuses a second record with one id atomically, so of any number of processes pushing
        one derived id exactly one makes the message). A record left by a push that crashed
        before its publish is delivered by recovery. Raises ValidationFailed, TooLarge,
        Unavailable (then the id is free again and the caller may retry).
        """
        self.validate(queue, message)
        try:
            return await self._record_and_publish(queue, message, request_id, message_id, None)
        except RecordExists:
            return None

    async def _record_and_publish(
        self,
        queue: LoadedQueue,
        message: Json,
        request_id: str | None,
        message_id: str | None,
        not_before: datetime | None,
    ) -> MessageRecord:
        record = MessageRecord.new(
            queue.name, message, message_id, request_id=request_id, not_before=not_before
        )
        try:
            await self._records.insert(record)
        except StoreUnavailable as exc:
            log.warning("store refused message on %s: %s", queue.name, exc)
            raise store_down() from None
        except StoreRejected as exc:
            raise TooLarge(f"the store refuses this message: {exc}") from None
        try:
            await self._dispatch.send(MessageRef(queue.name, record.id), delay=_delay(record))
        except DeliveryUnavailable as exc:
            log.warning(
                "publish of %s on %s failed, undoing record: %s", record.id, queue.name, exc
            )
            await self._undo(record)
            raise Unavailable("message delivery is unavailable") from None
        log.debug(
            "message %s queue=%s pushed request_id=%s",
            record.id,
            queue.name,
            request_id,
            extra={"message_id": record.id, "queue": queue.name, "request_id": request_id},
        )
        return record

    async def _undo(self, record: MessageRecord) -> None:
        try:
            await self._records.delete(record.queue, record.id)
        except StoreUnavailable:
            # The record stays PENDING and unpublished; the recovery sweep will deliver it.
            log.error(
                "could not undo record %s on %s; the sweep will deliver it", record.id, record.queue
            )

    async def push_many(
        self,
        queue: LoadedQueue,
        messages: Sequence[Json],
        *,
        request_id: str | None = None,
        start: Start | None = None,
        wait: float | None = None,
    ) -> list[MessageRecord | MessagingError]:
        """Push each message on its own, with one store batch and one delivery window.

        Per message, in order: its ``PENDING`` record, or the ValidationFailed, TooLarge or
        Unavailable error that kept it out. An item whose record or publish failed is
        removed again (no orphans). ``start`` applies to the whole batch (raises
        DelayTooLong before anything is recorded). With ``wait`` (seconds), each record once
        final, at the latest after ``wait`` (one deadline for the batch) as it is then.
        """
        not_before = _not_before(queue, start)
        results: list[MessageRecord | MessagingError] = []
        for message in messages:
            try:
                self.validate(queue, message)
                results.append(
                    MessageRecord.new(
                        queue.name, message, request_id=request_id, not_before=not_before
                    )
                )
            except ValidationFailed as exc:
                results.append(exc)
        records = [r for r in results if isinstance(r, MessageRecord)]
        failed = await self._record_and_publish_many(queue.name, records)
        accepted = [r for r in records if r.id not in failed]
        if wait is not None:
            read = functools.partial(self._get, queue.name)
            accepted = await settle_all(self._notifier, accepted, read, wait)
        outcome: dict[str, MessageRecord | MessagingError] = {r.id: r for r in accepted}
        outcome.update(failed)
        return [outcome[r.id] if isinstance(r, MessageRecord) else r for r in results]

    async def _record_and_publish_many(
        self, queue: str, records: list[MessageRecord]
    ) -> dict[str, MessagingError]:
        """Store and publish ``records`` in batches; the errors of those that failed."""
        if not records:
            return {}
        try:
            rejected = set(await self._records.insert_many(records))
        except StoreUnavailable as exc:
            log.warning("store refused a batch on %s: %s", queue, exc)
            for record in records:
                await self._undo(record)
            return {r.id: store_down() for r in records}
        errors: dict[str, MessagingError] = {
            i: TooLarge("the store refuses this message") for i in rejected
        }
        stored = [r for r in records if r.id not in rejected]
        if stored and stored[0].not_before is not None:  # a delayed batch: one due time
            unpublished = await self._dispatch.send_each_later(
                queue, [r.id for r in stored], _delay(stored[0])
            )
        else:
            unpublished = await self._dispatch.send_many(queue, [r.id for r in stored])
        for record in stored:
            if record.id in unpublished:
                await self._undo(record)
                errors[record.id] = Unavailable("message delivery is unavailable")
        return errors
