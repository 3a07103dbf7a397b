"""The messaging service: every operation on messages, for the gateway and for handlers
(``conveyor.messaging`` is the same concept as handlers see it: the public type of
``ctx.messaging`` and the adapter that hands this service to them).

The HTTP gateway maps requests to these methods and their errors (``shared.service.errors``)
to status codes; handlers reach the same methods through ``ctx.messaging``, so both validate,
deduplicate and redrive the same way. Authentication and role checks are the caller's job
(the gateway does them before reading the body); this layer trusts its caller.

A queue is looked up once per operation, by the caller, with :meth:`Messaging.queue`, and
the :class:`LoadedQueue` is passed down: an operation runs against one version of the
definition even if a hot reload replaces it meanwhile.

Pushes (validate, record, publish; idempotent and batched) are ``shared.service.pushing``'s,
which :class:`Messaging` inherits; reads, waits, deletes, redrives, cancels and bulk actions
are here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime

from shared.domain.message import MessageRecord, Status
from shared.platform.metrics import Metrics
from shared.ports import (
    CancelOutcome,
    CancelSignals,
    Claims,
    FieldMatch,
    Keys,
    ListCursor,
    MessageRef,
    QueueCounts,
    Records,
    Search,
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
    NotFound,
    UnknownQueue,
    store_down,
)
from shared.service.notify import Notifier
from shared.service.pushing import Pushing
from shared.service.searching import SearchIndexes
from shared.service.waiting import wait_for_final
from shared.service.watching import Tick, watch_changes

log = logging.getLogger(__name__)


class Messaging(Pushing):
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
        search: Search | None = None,
    ) -> None:
        """``registry`` is called per lookup so a reloaded registry takes effect.

        ``notifier``: this process's waiters (``get(wait=)``, ``watch``); ``announce``: how a
        delete, redrive or cancel wakes waiters here and in every other process; ``cancels``: where
        a cancel of a running message is signalled to consumers (None: only the store flag, seen at
        the holder's next lease renewal); ``metrics``: counts the cancels taken; ``search``: the
        store's body-field indexes (``where`` filters and bulk dry runs).
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
        #: Body-field indexes (``shared.service.searching``); None: searches are refused.
        self.indexes = SearchIndexes(search) if search is not None else None
        self._search = search

    def queue(self, name: str) -> LoadedQueue:
        """The loaded queue ``name``; raises UnknownQueue."""
        loaded = self._registry().get(name)
        if loaded is None:
            raise UnknownQueue(f"unknown queue {name!r}")
        return loaded

    async def get(
        self, queue: LoadedQueue, message_id: str, *, wait: float | None = None
    ) -> MessageRecord | None:
        """The record, or None. With ``wait`` (seconds), once it is final or deleted, at the
        latest after ``wait`` seconds as it is then. Raises Unavailable.

        With ``wait``, one store read answers a record final already: :func:`wait_for_final`
        registers before it reads (no completion can slip between the two), so no read is
        needed before it; a completion that carried the final record then answers without
        another (``shared.service.carried``)."""
        if wait is None:
            return await self._get(queue.name, message_id)
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
            raise store_down() from None
        if existed:
            await self._announce.final(queue.name, message_id)
        return existed

    async def list(
        self,
        queue: LoadedQueue,
        status: Status | None,
        limit: int,
        before: ListCursor | None,
        where: Sequence[FieldMatch] = (),
    ) -> list[MessageRecord]:
        """Up to ``limit`` records, newest first, after ``before``, matching ``where`` (see
        ``Records``). Raises Unavailable, and IndexBuilding (``shared.service.searching``) while
        a ``where`` field's index is not built yet."""
        self._require_indexes(queue, where)
        try:
            return await self._records.list_records(queue.name, status, limit, before, where)
        except StoreUnavailable:
            raise store_down() from None

    def _require_indexes(self, queue: LoadedQueue, where: Sequence[FieldMatch]) -> None:
        if not where:
            return
        if self.indexes is None:
            raise Conflict("this process cannot search message bodies")
        self.indexes.require(queue, where)

    async def counts(self) -> dict[str, QueueCounts]:
        """Records by queue and status (see ``Records.counts``). Raises Unavailable."""
        try:
            return await self._records.counts()
        except StoreUnavailable:
            raise store_down() from None

    async def finished_since(self, since: datetime) -> dict[str, dict[Status, int]]:
        """Records finished per queue and final status since ``since`` (see
        ``Records.finished_since``: every process's work counts). Raises Unavailable."""
        try:
            return await self._records.finished_since(since)
        except StoreUnavailable:
            raise store_down() from None

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
            raise store_down() from None
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
            raise store_down() from None
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
        self._require_indexes(queue, where.where)
        try:
            chosen = await select(self._records, queue.name, where)
        except StoreUnavailable:
            raise store_down() from None

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

    async def bulk_count(self, queue: LoadedQueue, where: BulkFilter) -> int:
        """How many messages ``bulk(queue, action, where)`` would select now (a dry run: one
        count query, nothing read or changed). Raises Unavailable and IndexBuilding."""
        self._require_indexes(queue, where.where)
        if self._search is None:
            raise Conflict("this process cannot count a selection")
        before = ListCursor(where.created_before, "") if where.created_before else None
        try:
            return await self._search.count_records(
                queue.name, where.status, where.where, where.limit, before, where.created_after
            )
        except StoreUnavailable:
            raise store_down() from None
