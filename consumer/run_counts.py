"""Per-minute rollups of this consumer's finished runs, counted in memory, added to the store.

:class:`RollupCounter` is on the per-message path: ``Finisher.finished`` calls
:meth:`RollupCounter.add` once per written run (a dict look-up, a counter increment and a
bucket increment; no I/O). :func:`flush_rollups_forever` takes what was counted every
``--rollup-flush-seconds`` and adds it to the store (``shared.ports.Rollups``: one increment
per (queue, minute)); once a minute it also deletes rollups older than
:data:`KEEP_SECONDS`. A failed add is logged and dropped, not retried: the store may have
applied part of it, and a chart missing a few seconds of an outage is better than one that
counts runs twice. Cancelling the loop flushes what is left once (shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from shared.domain.message import Status, utcnow
from shared.domain.run_stats import Rollup, bucket_of, counter_of, minute_of
from shared.ports import Rollups, StoreUnavailable

log = logging.getLogger(__name__)

#: How long rollups are kept (the charts show the last hour).
KEEP_SECONDS = 6 * 3600.0
#: Seconds between two prunes of old rollups.
PRUNE_EVERY_SECONDS = 60.0


class RollupCounter:
    """The rollups of runs finished since the last :meth:`take`, by (queue, minute)."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int], Rollup] = {}

    def add(self, queue: str, status: Status, duration_seconds: float) -> None:
        """Count one run of ``queue`` that ended in ``status`` (PENDING: a retry was
        scheduled) after ``duration_seconds``, in the current minute."""
        now = time.time()
        key = (queue, int(now // 60))
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = Rollup(queue, minute_of(now))
        counter = counter_of(status)
        if counter is not None:
            setattr(row, counter, getattr(row, counter) + 1)
        buckets = row.buckets
        index = bucket_of(duration_seconds)
        buckets[index] = buckets.get(index, 0) + 1

    def take(self) -> list[Rollup]:
        """What was counted since the last take (and forget it)."""
        rows, self._rows = self._rows, {}
        return list(rows.values())


async def flush(counter: RollupCounter, store: Rollups) -> int:
    """Add what ``counter`` holds to ``store``; how many rows (0 when the add failed)."""
    rows = counter.take()
    if not rows:
        return 0
    try:
        await store.add_rollups(rows)
    except StoreUnavailable as exc:
        log.warning("dropped %d rollup rows (charts miss these runs): %s", len(rows), exc)
        return 0
    return len(rows)


async def prune(store: Rollups) -> None:
    """Delete rollups older than :data:`KEEP_SECONDS` (best effort)."""
    try:
        deleted = await store.prune_rollups(utcnow() - timedelta(seconds=KEEP_SECONDS))
    except StoreUnavailable as exc:
        log.warning("rollup prune failed: %s", exc)
        return
    if deleted:
        log.info("deleted %d rollups older than %.0f hours", deleted, KEEP_SECONDS / 3600)


async def flush_rollups_forever(counter: RollupCounter, store: Rollups, every: float) -> None:
    """Flush ``counter`` into ``store`` every ``every`` seconds and prune once a minute,
    until cancelled; then flush once more."""
    last_prune = float("-inf")
    try:
        while True:
            await asyncio.sleep(every)
            await flush(counter, store)
            if time.monotonic() - last_prune >= PRUNE_EVERY_SECONDS:
                last_prune = time.monotonic()
                await prune(store)
    finally:
        await flush(counter, store)
