"""Start-up recovery and the periodic recovery sweep.

- Embedded store (SQLite: one process owns the file, see ``shared.stores.sqlite``): at
  start, messages left ``INPROGRESS`` by a dead process go back to ``PENDING``.
- In-process delivery (nothing survives the process): at start, every ``PENDING`` message
  is published again.
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
from datetime import timedelta

from shared.ports import DeliveryUnavailable, MessageRef, StoreUnavailable
from shared.records import ErrorInfo, utcnow
from shared.runtime import Runtime

log = logging.getLogger(__name__)


async def recover_at_start(rt: Runtime) -> int:
    """Make an embedded process's leftovers runnable again; the number republished."""
    if rt.settings.sqlite_path is not None:
        released = await rt.store.release_all_inprogress()
        if released:
            log.warning(
                "%d messages were INPROGRESS in a process that died; re-running them", released
            )
    if not rt.embedded_delivery:
        return 0
    count = 0
    async for ref in rt.store.pending():
        await rt.delivery.publish(ref.queue, ref.id)
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


async def sweep(rt: Runtime, queues: Collection[str]) -> tuple[int, int]:
    """One pass of the recovery sweep; (republished, failed) counts."""
    settings = rt.settings
    cutoff = utcnow() - timedelta(seconds=settings.republish_after_seconds)
    republished: list[MessageRef] = []
    async for ref in rt.store.unpublished(cutoff):
        if ref.queue not in queues:
            continue
        await rt.delivery.publish(ref.queue, ref.id)
        republished.append(ref)
    await rt.store.mark_published(republished)
    failed = await rt.store.fail_abandoned(
        utcnow() - timedelta(seconds=settings.lease_seconds),
        settings.delivery_limit,
        dead_letter_error(settings.delivery_limit),
    )
    if republished:
        log.warning("sweep republished %d messages recorded but never published", len(republished))
    for ref in failed:
        rt.metrics.dead_lettered(ref.queue)
        log.error(
            "message %s on %s dead-lettered after %d deliveries; marked ERROR",
            ref.id,
            ref.queue,
            settings.delivery_limit,
        )
    return len(republished), len(failed)


async def sweep_forever(rt: Runtime, queues: Collection[str]) -> None:
    """Run :func:`sweep` every ``sweep_interval_seconds`` until cancelled.

    ``queues`` is read at each pass (the consumer's live list follows hot reloads).
    """
    while True:
        await asyncio.sleep(rt.settings.sweep_interval_seconds)
        try:
            await sweep(rt, queues)
        except (StoreUnavailable, DeliveryUnavailable) as exc:
            log.warning("recovery sweep skipped: %s", exc)
