"""The recovery sweep's cost on a large backlog (SQLite): ``python -m bench.sweep``.

Inserts ``--records`` (100,000) PENDING records marked published into a fresh SQLite file,
old enough to be re-delivered, and holds one copy of each in an in-process work queue (the
broker holding the backlog: its ready count is exact). Then times one full sweep pass
(``consumer.recovery.sweep``) and each store query it makes, and checks it republished
nothing; then takes ``--lost`` copies out of the work queue and times the pass that
re-delivers exactly those. Prints a Markdown table (median of ``--runs`` passes).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from consumer.recovery import SweepPolicy, dead_letter_error, sweep
from shared.adapters.inprocess.queues import InProcessDelivery
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import MessageRecord, utcnow
from shared.platform.metrics import Metrics
from shared.ports import MessageRef
from shared.service.dispatch import Dispatcher

QUEUE = "bench"
POLICY = SweepPolicy(
    republish_after_seconds=60,
    lease_seconds=30,
    delivery_limit=5,
    interval_seconds=10,
    redeliver_after_seconds=300,
)


async def timed(runs: int, step: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Median milliseconds of ``runs`` calls of ``step``, and its last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = await step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


async def fill(store: SqliteStore, work: InProcessDelivery, count: int) -> None:
    """``count`` PENDING records, published, 10 minutes old; one queued copy of each."""
    old = utcnow() - timedelta(minutes=10)
    for start in range(0, count, 5000):
        chunk = [
            replace(MessageRecord.new(QUEUE, {"n": n}), created_at=old, updated_at=old)
            for n in range(start, min(start + 5000, count))
        ]
        assert not await store.insert_many(chunk)
        await store.mark_published([MessageRef(QUEUE, r.id) for r in chunk])
        await work.publish_many(QUEUE, [r.id for r in chunk])


async def main(records: int, lost: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "sweep.db", shared=True)
        work = InProcessDelivery()
        await store.open()
        try:
            started = time.perf_counter()
            await fill(store, work, records)
            filled = time.perf_counter() - started
            dispatch = Dispatcher(work, None)
            metrics = Metrics()
            now = utcnow()
            idle = now - timedelta(seconds=POLICY.redeliver_after_seconds)
            stale = now - timedelta(seconds=POLICY.interval_seconds)
            error = dead_letter_error(POLICY.delivery_limit)
            rows: list[tuple[str, float, str]] = []

            async def unpublished() -> int:
                cutoff = now - timedelta(seconds=POLICY.republish_after_seconds)
                return len([ref async for ref in store.unpublished(cutoff)])

            queries: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("unpublished() scan (step a)", unpublished),
                ("fail_abandoned() (step b)", lambda: store.fail_abandoned(stale, 5, error)),
                ("release_expired() (step c)", lambda: store.release_expired(stale)),
                ("take_overdue() (step d)", lambda: store.take_overdue(stale)),
                ("count_queued() (step e)", lambda: store.count_queued(QUEUE)),
                ("idle_queued(limit 1000) (step e)", lambda: store.idle_queued(QUEUE, idle, 1000)),
                ("work.ready_count() (step e)", lambda: work.ready_count(QUEUE)),
            ]
            for name, step in queries:
                ms, result = await timed(runs, step)
                shown = result if isinstance(result, int) else len(result)
                rows.append((name, ms, f"{shown}"))
            ms, report = await timed(runs, lambda: sweep(store, dispatch, metrics, POLICY, [QUEUE]))
            assert work.depth(QUEUE) == records, "the sweep republished a held backlog"
            rows.append(("one sweep pass, broker holds all", ms, f"{report}"))
            for _ in range(lost):  # the broker lost these copies
                work._lane(QUEUE).items.get_nowait()
            ms, report = await timed(1, lambda: sweep(store, dispatch, metrics, POLICY, [QUEUE]))
            assert report.redelivered == lost and work.depth(QUEUE) == records, report
            rows.append((f"one sweep pass, broker lost {lost}", ms, f"{report}"))
        finally:
            await store.close()
    print(f"{records:,} PENDING queued records, inserted in {filled:.1f} s; median of {runs}\n")
    print("| step | ms | result |\n|---|---:|---|")
    for name, ms, result in rows:
        print(f"| {name} | {ms:.1f} | {result} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--lost", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.lost, args.runs))
