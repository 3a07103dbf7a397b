"""The messaging service: every operation on messages, for the gateway and for handlers.

The HTTP gateway maps requests to these methods and their errors (``shared.service.errors``)
to status codes; handlers reach the same methods through ``ctx.messaging``, so both validate,
deduplicate and redrive the same way. Authentication and role checks are the caller's job
(the gateway does them before reading the body); this layer trusts its caller.

A queue is looked up once per operation, by the caller, with :meth:`Messaging.queue`, and
the :class:`LoadedQueue` is passed down: an operation runs against one version of the
definition even if a hot reload replaces it meanwhile.

The write path: validate → record ``PENDING`` → publish (returns once durably accepted,
``shared.service.dispatch``) → answer. If the publish fails the record is deleted again and
:class:`Unavailable` is raised, so a message is either accepted (recorded and delivered) or
not at all. A crash between the record and the publish is repaired by the consumers'
recovery sweep (``consumer.recovery``), which republishes old ``PENDING`` records that were
never marked published.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime

from shared.domain.idempotency import body_hash, scope_of
from shared.domain.message import Json, MessageRecord, Status, utcnow
from shared.domain.payloads import validation_errors
from shared.platform.metrics import Metrics
from shared.ports import (
    CancelOutcome,
    CancelSignals,
    Claims,
    DeliveryUnavailable,
    Keys,
    ListCursor,
    MessageRef,
    QueueCounts,
    RecordExists,
    Records,
    StoreRejected,
    StoreUnavailable,
)
from shared.queues.registry import LoadedQueue, Registry
from shared.service import cancel as cancelling
from shared.service.announce import Announcer
from shared.service.bulk import BulkAction, BulkFilter, BulkResult, act_on_each, select
from shared.service.cancel import Cancelled
from shared.service.dispatch import Dispatcher
from shared.service.errors import (
    Conflict,
    MessagingError,
    NotFound,
    TooLarge,
    Unavailable,
    UnknownQueue,
    ValidationFailed,
)
from shared.service.idempotent_push import IdempotentPush, Pushed
from shared.service.notify import Notifier
from shared.service.start_time import Start
from shared.service.waiting import wait_for_final
from shared.service.watching import Tick, watch_changes

log = logging.getLogger(__name__)


def _store_down() -> Unavailable:
    return Unavailable("the message store is unavailable")


def _not_before(queue: LoadedQueue, start: Start | None) -> datetime | None:
    if start is None:
        return None
    return start.not_before(utcnow(), queue.definition.options.max_delay_seconds)


def _delay(record: MessageRecord) -> float:
    """Seconds until ``record`` may start (0: now)."""
    if record.not_before is None:
        return 0.0
    return max(0.0, (record.not_before - utcnow()).total_seconds())


class Messaging:
    """Push, get, wait, delete, list, count, redrive and cancel messages over the ports."""

    def __init__(
        self,
        registry: Callable[[], Registry],
        records: Records,
        claims: Claims,
        keys: Keys,
        dispatch: Dispatcher,
        notifier: Notifier,
        announce: Announcer,
        *,
        cancels: CancelSignals | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``registry`` is called per lookup so a reloaded registry takes effect.

        ``notifier``: this process's waiters (``get(wait=)``, ``watch``); ``announce``: how a
        delete, redrive or cancel wakes waiters here and in every other process; ``cancels``: where
        a cancel of a running message is signalled to consumers (None: only the store flag, seen at
        the holder's next lease renewal); ``metrics``: counts the cancels taken.
        """
        self._registry = registry
        self._records = records
        self._claims = claims
        self._keys = keys
        self._dispatch = dispatch
        self._notifier = notifier
        self._announce = announce
        self._cancels = cancels
        self._metrics = metrics

    def queue(self, name: str) -> LoadedQueue:
        """The loaded queue ``name``; raises UnknownQueue."""
        loaded = self._registry().get(name)
        if loaded is None:
            raise UnknownQueue(f"unknown queue {name!r}")
        return loaded

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
    ) -> Pushed:
        """Validate, record and deliver ``message``; the ``PENDING`` record.

        ``request_id`` (the pushing HTTP request's id) is kept on the record for tracing.
        ``start``: not before then (``shared.service.start_time``; DelayTooLong past the
        queue's ``max_delay_seconds``).
        With ``idempotency_key``, the push happens once per (queue, ``caller``, key) within
        the key's lifetime (``shared.service.idempotent_push``): a repeat returns the original
        record with ``created=False``. Raises ValidationFailed, TooLarge, Unavailable, and
        with a key KeyReused, KeyInProgress or Conflict.
        """
        self.validate(queue, message)
        not_before = _not_before(queue, start)
        if idempotency_key is None:
            record = await self._record_and_publish(queue, message, request_id, None, not_before)
            return Pushed(record)
        once = IdempotentPush(
            self._keys, scope_of(queue.name, caller), idempotency_key, body_hash(message)
        )
        return await once.run(
            lambda message_id: self._record_and_publish(
                queue, message, request_id, message_id, not_before
            ),
            lambda message_id: self._get(queue.name, message_id),
        )

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
            raise _store_down() from None
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
    ) -> list[MessageRecord | MessagingError]:
        """Push each message on its own, with one store batch and one delivery window.

        Per message, in order: its ``PENDING`` record, or the ValidationFailed, TooLarge or
        Unavailable error that kept it out. An item whose record or publish failed is
        removed again (no orphans). ``start`` applies to the whole batch (raises
        DelayTooLong before anything is recorded).
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
        return [failed.get(r.id, r) if isinstance(r, MessageRecord) else r for r in results]

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
            return {r.id: _store_down() for r in records}
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

    async def _get(self, queue: str, message_id: str) -> MessageRecord | None:
        try:
            return await self._records.get(queue, message_id)
        except StoreUnavailable:
            raise _store_down() from None

    async def get(
        self, queue: LoadedQueue, message_id: str, *, wait: float | None = None
    ) -> MessageRecord | None:
        """The record, or None. With ``wait`` (seconds), once it is final or deleted, at the
        latest after ``wait`` seconds as it is then. Raises Unavailable."""
        record = await self._get(queue.name, message_id)
        if record is None or wait is None or record.status.final:
            return record
        return await wait_for_final(
            self._notifier, message_id, lambda: self._get(queue.name, message_id), wait
        )

    def watch(
        self,
        queue: LoadedQueue,
        message_id: str,
        *,
        after: int | None,
        heartbeat: float,
        max_seconds: float,
    ) -> AsyncGenerator[MessageRecord | Tick, None]:
        """The record each time it changes (a version newer than ``after``), heartbeats,
        until it is final or deleted or ``max_seconds`` passed (see
        ``shared.service.watching``). Raises Unavailable while iterating."""
        return watch_changes(
            self._notifier,
            message_id,
            lambda: self._get(queue.name, message_id),
            after=after,
            heartbeat=heartbeat,
            max_seconds=max_seconds,
        )

    async def delete(self, queue: LoadedQueue, message_id: str) -> bool:
        """Delete the record; True if it existed. A deleted PENDING message never runs.

        Clients waiting on it, in any process, answer at once. Raises Unavailable."""
        try:
            existed = await self._records.delete(queue.name, message_id)
        except StoreUnavailable:
            raise _store_down() from None
        if existed:
            await self._announce.final(queue.name, message_id)
        return existed

    async def list(
        self, queue: LoadedQueue, status: Status | None, limit: int, before: ListCursor | None
    ) -> list[MessageRecord]:
        """Up to ``limit`` records, newest first, after ``before`` (see ``Records``)."""
        try:
            return await self._records.list_records(queue.name, status, limit, before)
        except StoreUnavailable:
            raise _store_down() from None

    async def counts(self) -> dict[str, QueueCounts]:
        """Records by queue and status (see ``Records.counts``). Raises Unavailable."""
        try:
            return await self._records.counts()
        except StoreUnavailable:
            raise _store_down() from None

    async def finished_since(self, since: datetime) -> dict[str, dict[Status, int]]:
        """Records finished per queue and final status since ``since`` (see
        ``Records.finished_since``: every process's work counts). Raises Unavailable."""
        try:
            return await self._records.finished_since(since)
        except StoreUnavailable:
            raise _store_down() from None

    async def redrive(self, queue: LoadedQueue, message_id: str) -> MessageRecord:
        """Put an ``ERROR`` message back to ``PENDING`` for a new run, and deliver it.

        ``attempts`` restarts at 0. The record is marked unpublished before it is handed to
        delivery, so if that fails recovery still delivers it (the message will run either
        way). Raises NotFound, Conflict (not ERROR), Unavailable.
        """
        try:
            record = await self._claims.redrive(queue.name, message_id)
            existing = record or await self._records.get(queue.name, message_id)
        except StoreUnavailable:
            raise _store_down() from None
        if existing is None:
            raise NotFound(f"no message {message_id} on queue {queue.name}")
        if record is None:
            raise Conflict(
                f"message {message_id} is {existing.status.value}; "
                "only ERROR messages can be retried"
            )
        await self._announce.changed(queue.name, message_id)  # event streams everywhere
        await self._dispatch.send_or_leave(MessageRef(queue.name, message_id))
        log.info(
            "message %s on %s redriven",
            message_id,
            queue.name,
            extra={"message_id": message_id, "queue": queue.name},
        )
        return record

    async def cancel(self, queue: LoadedQueue, message_id: str) -> Cancelled:
        """Cancel a message (see ``shared.service.cancel``): a PENDING one is CANCELLED at
        once; a running one is asked to stop (``requested``). Raises NotFound, Conflict (it
        is final), Unavailable."""
        try:
            done = await self._claims.cancel(queue.name, message_id, cancelling.expiry(queue))
        except StoreUnavailable:
            raise _store_down() from None
        if done.record is None or done.outcome is CancelOutcome.GONE:
            raise cancelling.not_found(queue, message_id)
        if done.outcome is CancelOutcome.FINAL:
            raise cancelling.already_final(done.record)
        if self._metrics is not None:
            self._metrics.cancelled(queue.name, running=done.outcome is CancelOutcome.REQUESTED)
        if done.outcome is CancelOutcome.REQUESTED:
            if self._cancels is not None:
                await self._cancels.publish_cancel(queue.name, message_id)
            return cancelling.logged(Cancelled(done.record, requested=True))
        await self._announce.final(queue.name, message_id)  # final now: wake waiters everywhere
        return cancelling.logged(Cancelled(done.record))

    async def bulk(self, queue: LoadedQueue, action: BulkAction, where: BulkFilter) -> BulkResult:
        """Run ``action`` on the messages ``where`` selects (see ``shared.service.bulk``);
        which were acted on and which skipped, with the reason. Raises Unavailable when the
        selection cannot be read."""
        try:
            chosen = await select(self._records, queue.name, where)
        except StoreUnavailable:
            raise _store_down() from None

        async def act(record: MessageRecord) -> None:
            if action is BulkAction.CANCEL:
                await self.cancel(queue, record.id)
            elif action is BulkAction.RETRY:
                await self.redrive(queue, record.id)
            elif not await self.delete(queue, record.id):
                raise cancelling.not_found(queue, record.id)

        result = await act_on_each(chosen, act)
        log.info(
            "bulk %s on %s: %d acted on, %d skipped",
            action.value,
            queue.name,
            len(result.acted),
            len(result.skipped),
            extra={"queue": queue.name},
        )
        return result
