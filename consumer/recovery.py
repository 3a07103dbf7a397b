"""Start-up recovery and the periodic recovery sweep.

- A store no other process uses (``StoreLifecycle.shared_between_processes`` false: the
  embedded SQLite file, locked): at start, messages left ``INPROGRESS`` by a dead process go
  back to ``PENDING``.
- A work queue that does not survive restarts (``WorkQueue.survives_restart`` false:
  in-process delivery): at start, every ``PENDING`` message is published again.
- With a broker, every consumer runs :func:`sweep` periodically. It is safe with many
  consumers: duplicate publishes are harmless because claims are atomic. It
  (a) publishes ``PENDING`` messages that were recorded but never marked published and are
  older than ``republish_after_seconds`` (their gateway died between record and publish), and
  (b) marks ``ERROR`` the messages whose holder died on the last delivery the broker allows:
  the broker has dead-lettered them, so nobody would ever finish them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from shared.messaging.dispatch import Dispatcher
from shared.metrics import Metrics
from shared.ports import (
    DeliveryUnavailable,
    MessageRef,
    Recovery,
    StoreLifecycle,
    StoreUnavailable,
    WorkQueue,
)
from shared.records import ErrorInfo, utcnow

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


async def sweep(
    store: Recovery,
    dispatch: Dispatcher,
    metrics: Metrics,
    policy: SweepPolicy,
    queues: Collection[str],
) -> tuple[int, int]:
    """One pass of the recovery sweep; (republished, failed) counts."""
    cutoff = utcnow() - timedelta(seconds=policy.republish_after_seconds)
    republished: list[MessageRef] = []
    async for ref in store.unpublished(cutoff):
        if ref.queue not in queues:
            continue
        await dispatch.send(ref)
        republished.append(ref)
    failed = await store.fail_abandoned(
        utcnow() - timedelta(seconds=policy.lease_seconds),
        policy.delivery_limit,
        dead_letter_error(policy.delivery_limit),
    )
    if republished:
        log.warning("sweep republished %d messages recorded but never published", len(republished))
    for ref in failed:
        metrics.dead_lettered(ref.queue)
        log.error(
            "message %s on %s dead-lettered after %d deliveries; marked ERROR",
            ref.id,
            ref.queue,
            policy.delivery_limit,
            extra={"message_id": ref.id, "queue": ref.queue},
        )
    return len(republished), len(failed)


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
