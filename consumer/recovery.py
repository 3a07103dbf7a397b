"""Start-up recovery and the periodic recovery sweep.

- A store no other process uses (``StoreLifecycle.shared_between_processes`` false: the
  embedded SQLite file, locked): at start, messages left ``INPROGRESS`` by a dead process go
  back to ``PENDING``.
- A work queue that does not survive restarts (``WorkQueue.survives_restart`` false:
  in-process delivery): at start, every ``PENDING`` message is published again.
- With a broker, every consumer runs :func:`sweep` every ``sweep_interval_seconds``. The
  sweep, not the broker's dead-letter queue, is the authority on abandoned work; it holds
  this invariant: every accepted message is final, or ``PENDING``/``INPROGRESS`` under a
  live lease, or waiting for a due time it is known to wait for. Each pass:

  (a) publishes ``PENDING`` messages recorded but never marked published and older than
      ``republish_after_seconds`` (their gateway died between record and publish);
  (b) marks ``ERROR`` (``DeliveryLimitExceeded``) the ``INPROGRESS`` messages whose lease
      expired more than one sweep interval ago and that have used ``--delivery-limit``
      runs (since their last retry or redrive);
  (c) puts the other ``INPROGRESS`` messages whose lease expired that long ago back to
      ``PENDING`` and publishes them again: their holder died, and their broker copy may
      have been dead-lettered (the broker counts deliveries that never became runs, e.g.
      a consumer waiting on a live lease) or requeued;
  (d) publishes again, once, ``PENDING`` messages due (a retry's ``not_before``) more than
      one interval ago and still not claimed: their delayed copy may be lost;
  (e) re-delivers ``queued`` messages (``shared.domain.message.DeliveryState``: published,
      due, ``PENDING``) that stayed unclaimed longer than ``redeliver_after_seconds``, per
      consumed queue, only while the broker holds fewer ready messages than the store holds
      queued records, and at most that difference, oldest first: their delivery is gone (a
      purged queue, a foreign consumer that took and acked it, a broker restarted without
      its data). A backlog the broker holds is never republished; when the broker cannot say
      (``WorkQueue.ready_count`` None) nothing is.

  It is safe with many consumers: duplicate publishes are harmless because claims are
  atomic (``Claims.claim`` moves only a ``PENDING`` record, or an expired lease, to
  ``INPROGRESS``: a second copy of a message being or already run is acked unrun), and each
  store step is a conditional write that one pass wins. Step (e) can over-deliver only by
  what changes during its two reads (deliveries taken but not yet claimed, or consumers
  sweeping the same queue at once): a few duplicates, each costing a claim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.message import ErrorInfo, utcnow
from shared.platform.metrics import Metrics
from shared.ports import (
    DeliveryUnavailable,
    Recovery,
    StoreLifecycle,
    StoreUnavailable,
    WorkQueue,
)
from shared.service.dispatch import Dispatcher

log = logging.getLogger(__name__)


class RecoveryStore(Recovery, StoreLifecycle, Protocol):
    """What recovery needs of a store: its recovery methods and what kind of store it is."""


async def recover_at_start(store: RecoveryStore, work: WorkQueue, dispatch: Dispatcher) -> int:
    """Make a sole process's leftovers runnable again; the number republished.

    Asks the adapters, never the settings: a store no other process uses gets its
    ``INPROGRESS`` records back (their holder was this process, now dead); a work queue that
    does not survive restarts gets every ``PENDING`` record again.
    """
    if not store.shared_between_processes:
        released = await store.release_all_inprogress()
        if released:
            log.warning(
                "%d messages were INPROGRESS in a process that died; re-running them", released
            )
    if work.survives_restart:
        return 0
    count = 0
    async for ref in store.pending():
        await dispatch.send(ref)
        count += 1
    if count:
        log.info("recovered %d PENDING messages", count)
    return count


def dead_letter_error(limit: int) -> ErrorInfo:
    """The error recorded for a message dead-lettered by the delivery limit."""
    return ErrorInfo(
        "DeliveryLimitExceeded",
        f"the consumer running this message died {limit} times (delivery limit); "
        "the message was dead-lettered",
    )


@dataclass(frozen=True, slots=True)
class SweepPolicy:
    """The timings and limits the sweep works with (from the settings)."""

    republish_after_seconds: float
    lease_seconds: float
    delivery_limit: int
    interval_seconds: float
    #: Re-deliver a ``queued`` record unclaimed this long (step (e)).
    redeliver_after_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one pass did, by reason."""

    #: PENDING, recorded but never marked published (their pusher died): published.
    unpublished: int = 0
    #: INPROGRESS whose lease expired with runs left (their holder died): published again.
    expired: int = 0
    #: PENDING past their due time and not claimed (a lost delayed copy): published again.
    overdue: int = 0
    #: INPROGRESS whose lease expired with no runs left: marked ERROR.
    failed: int = 0
    #: PENDING queued and unclaimed too long, missing from the broker: published again.
    redelivered: int = 0


async def sweep(
    store: Recovery,
    dispatch: Dispatcher,
    metrics: Metrics,
    policy: SweepPolicy,
    queues: Collection[str],
) -> SweepReport:
    """One pass of the recovery sweep (see the module docstring for the invariant).

    Raises StoreUnavailable / DeliveryUnavailable: what was not published yet stays marked
    unpublished, so the next pass picks it up.
    """
    now = utcnow()
    republished = 0
    async for ref in store.unpublished(now - timedelta(seconds=policy.republish_after_seconds)):
        if ref.queue in queues:
            await dispatch.send(ref)
            republished += 1
    # Leases that expired more than one pass ago: their holder is gone (a live holder renews,
    # and one that cannot renew stops before its lease ends, see consumer.leases).
    stale = now - timedelta(seconds=policy.interval_seconds)
    limit = policy.delivery_limit
    failed = await store.fail_abandoned(stale, limit, dead_letter_error(limit))
    expired = await store.release_expired(stale)
    overdue = await store.take_overdue(stale)
    for ref in (*expired, *overdue):
        if ref.queue in queues:  # else a consumer of that queue publishes it as unpublished
            await dispatch.send(ref)
    idle_before = now - timedelta(seconds=policy.redeliver_after_seconds)
    redelivered = 0
    for queue in list(queues):
        redelivered += await redeliver_lost(store, dispatch, queue, idle_before)
    report = SweepReport(republished, len(expired), len(overdue), len(failed), redelivered)
    if republished or expired or overdue or redelivered:
        log.warning(
            "sweep republished %d never published, %d abandoned (lease expired), %d overdue,"
            " %d lost (queued, unclaimed, missing from the broker)",
            republished,
            len(expired),
            len(overdue),
            redelivered,
        )
    for ref in failed:
        metrics.dead_lettered(ref.queue)
        log.error(
            "message %s on %s ran out of deliveries (limit %d) with its holder gone; marked ERROR",
            ref.id,
            ref.queue,
            limit,
            extra={"message_id": ref.id, "queue": ref.queue},
        )
    return report


async def redeliver_lost(
    store: Recovery, dispatch: Dispatcher, queue: str, idle_before: datetime
) -> int:
    """Step (e) for one queue: publish again at most (queued in the store - ready in the
    broker) ``queued`` records unclaimed since before ``idle_before``, oldest first; how many.

    The store is counted before the broker is asked: a push in between is counted by the
    broker only (fewer re-deliveries, never more).
    """
    queued = await store.count_queued(queue)
    if queued == 0:
        return 0
    ready = await dispatch.ready_count(queue)
    if ready is None or ready >= queued:
        return 0
    lost = await store.idle_queued(queue, idle_before, queued - ready)
    for ref in lost:
        await dispatch.send(ref)
        log.info(
            "message %s on %s was queued but unclaimed and missing from the broker; re-delivered",
            ref.id,
            ref.queue,
            extra={"message_id": ref.id, "queue": ref.queue},
        )
    return len(lost)


async def sweep_forever(
    store: Recovery,
    dispatch: Dispatcher,
    metrics: Metrics,
    policy: SweepPolicy,
    queues: Collection[str],
) -> None:
    """Run :func:`sweep` every ``policy.interval_seconds`` until cancelled.

    ``queues`` is read at each pass (the consumer's live list follows hot reloads).
    """
    while True:
        await asyncio.sleep(policy.interval_seconds)
        try:
            await sweep(store, dispatch, metrics, policy, queues)
        except (StoreUnavailable, DeliveryUnavailable) as exc:
            log.warning("recovery sweep skipped: %s", exc)
