"""A run's last writes: its final status (or CANCELLED), or its record put back.

:class:`Finisher` writes them, each conditional on this consumer still holding the message
(the final writes of one loop turn together, as one ``Claims.finish_many``: ``consumer.batching``),
retrying store outages (:func:`until_stored`) while the delivery is held, and announces each
written change to waiters (``shared.service.announce``); it also counts and logs a run's end
(``metrics``, and the dashboard's per-minute rollups, ``consumer.run_counts``).
:func:`with_expiry` stamps an :class:`Outcome` with ``expires_at`` from the queue's
``result_ttl_seconds`` (None: kept forever). :func:`sweep_expired_forever` deletes expired
records from stores that do not expire them by themselves (SQLite), and audit entries older
than ``--audit-retention-days`` from every store (:func:`sweep_expired_once`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from consumer.batching import Coalescer
from consumer.run_counts import RollupCounter
from shared.domain.message import ErrorInfo, MessageRecord, Status, utcnow
from shared.platform.logs import TRACEBACK
from shared.platform.metrics import Metrics
from shared.ports import (
    Claims,
    Finished,
    MessageRef,
    Outcome,
    Recovery,
    StoreRejected,
    StoreUnavailable,
)
from shared.queues.registry import LoadedQueue
from shared.service.announce import Announcer
from shared.service.auditing import AuditTrail

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The longest pause between two attempts of a store write during an outage.
STORE_RETRY_MAX_SECONDS = 5.0

#: Seconds between two deletions of expired records (SQLite; MongoDB has a TTL index).
EXPIRY_SWEEP_SECONDS = 2.0
#: Expiry passes between two trims of the audit log (about a minute: entries live for days).
AUDIT_TRIM_PASSES = 30


def with_expiry(outcome: Outcome, ttl: float | None, now: datetime | None = None) -> Outcome:
    """``outcome`` expiring ``ttl`` seconds after ``now`` (default: the current time)."""
    if ttl is None:
        return outcome
    return dataclasses.replace(outcome, expires_at=(now or utcnow()) + timedelta(seconds=ttl))


async def until_stored(op: Callable[[], Awaitable[T]], what: str) -> T:
    """``await op()``, retried (backing off up to :data:`STORE_RETRY_MAX_SECONDS`) while the
    store is unavailable; ``what`` names the write in the log."""
    delay = 0.1
    while True:
        try:
            return await op()
        except StoreUnavailable as exc:
            log.warning("store unavailable during %s (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX_SECONDS)


class Finisher:
    """Writes that end a run for the consumer ``owner``, each announced once written."""

    def __init__(
        self,
        claims: Claims,
        announce: Announcer,
        metrics: Metrics,
        owner: str,
        rollups: RollupCounter | None = None,
    ) -> None:
        self._claims = claims
        self._announce = announce
        self._metrics = metrics
        self._owner = owner
        # The final writes asked for in one loop turn go as one ``finish_many``.
        self._finishes: Coalescer[tuple[MessageRef, Outcome], Finished] = Coalescer(
            lambda items: claims.finish_many(items, owner), "finish-batch"
        )
        #: Where finished runs are counted for the dashboard's charts (None: nowhere).
        self._rollups = rollups

    async def finish(
        self, queue: LoadedQueue, record: MessageRecord, outcome: Outcome
    ) -> tuple[Outcome, bool]:
        """Write the outcome (retrying outages); a result the store refuses becomes ERROR.
        The outcome written, and whether it was (False: deleted or taken over meanwhile).

        The expiry comes from ``queue``, the definition the message started with (a hot
        reload meanwhile applies to the next message, like the handler code)."""
        ttl = queue.definition.options.result_ttl_seconds
        ref, finishes = MessageRef(record.queue, record.id), self._finishes

        async def write(final: Outcome) -> bool:
            final = with_expiry(final, ttl)
            done = await until_stored(lambda: finishes.ask((ref, final)), "finish")
            if done.written:  # wake GET ?wait= clients (after the final status is stored)
                await self._announce.final(record.queue, record.id, done.record)
            return done.written

        try:
            return outcome, await write(outcome)
        except StoreRejected as exc:
            rejected = Outcome(Status.ERROR, error=ErrorInfo("ResultRejected", str(exc)))
            return rejected, await write(rejected)

    async def cancelled(self, queue: LoadedQueue, record: MessageRecord, started: float) -> None:
        """Write ``CANCELLED`` for ``record`` (retrying outages; conditional on holding it)
        and log the run's end, ``started`` by ``perf_counter``."""
        outcome, written = await self.finish(queue, record, Outcome(Status.CANCELLED))
        extra = {"message_id": record.id, "queue": record.queue}
        self.finished(record, outcome, written, started, extra)

    async def release(self, ref: MessageRef) -> None:
        """Put ``ref`` back to ``PENDING`` for another consumer (shutdown); best effort."""
        with contextlib.suppress(StoreUnavailable):
            if await self._claims.release(ref.queue, ref.id, self._owner):
                await self._announce.changed(ref.queue, ref.id)

    def finished(
        self,
        record: MessageRecord,
        outcome: Outcome,
        written: bool,
        started: float,
        extra: Mapping[str, object] | None,
    ) -> None:
        """Count (if ``written``) and log one run's end, ``started`` by ``perf_counter``: at
        INFO, or, for a failed attempt with a traceback (a handler's exception, final or to
        be retried), at ERROR as one log record carrying that traceback (as the record keeps
        it) as its exception text."""
        status, error = outcome.status, outcome.error
        duration = time.perf_counter() - started
        if written:
            self._metrics.finished(record.queue, status, duration)
            if self._rollups is not None:
                self._rollups.add(record.queue, status, duration)
        trace = error.traceback if error is not None else None
        level = logging.INFO if trace is None else logging.ERROR
        if not log.isEnabledFor(level):
            return
        fields = {**(extra or {}), "outcome": status.value, "duration_ms": duration * 1000}
        if trace is not None and error is not None:
            fields |= {"error_type": error.type, TRACEBACK: trace}
        log.log(
            level,
            "message %s queue=%s attempt=%d outcome=%s duration_ms=%.1f%s%s",
            record.id,
            record.queue,
            record.attempts,
            status.value,
            duration * 1000,
            "" if trace is None or error is None else f" error={error.type}",
            "" if written else " (record deleted or taken over meanwhile; not written)",
            extra=fields,
        )


async def sweep_expired_forever(
    store: Recovery,
    audit: AuditTrail,
    audit_retention: timedelta,
    every: float = EXPIRY_SWEEP_SECONDS,
) -> None:
    """Delete expired final records every ``every`` seconds, and trim the audit log every
    :data:`AUDIT_TRIM_PASSES` passes (the first pass included), until cancelled."""
    passes = 0
    while True:
        await asyncio.sleep(every)
        trim = audit_retention if passes % AUDIT_TRIM_PASSES == 0 else None
        await sweep_expired_once(store, audit, utcnow(), trim)
        passes += 1


async def sweep_expired_once(
    store: Recovery, audit: AuditTrail, now: datetime, audit_retention: timedelta | None
) -> None:
    """One pass at ``now``: delete the records expired by then and, when
    ``audit_retention`` is given, the audit entries older than that. A store outage is
    logged; the next pass tries again."""
    try:
        deleted = await store.delete_expired(now)
        trimmed = 0 if audit_retention is None else await audit.trim(now, audit_retention)
    except StoreUnavailable as exc:
        log.warning("expiry sweep failed: %s", exc)
        return
    if deleted:
        log.info("deleted %d expired messages", deleted)
    if trimmed:
        log.info("deleted %d audit entries older than %s", trimmed, audit_retention)
