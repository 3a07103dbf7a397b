"""Store contract for per-minute rollups (``shared.ports.operations.Rollups``), against both
adapters: adds of one (queue, minute) sum exactly, also when concurrent; reads answer one
queue's window oldest first; prunes delete the minutes before a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.domain.run_stats import Rollup
from shared.ports import Store

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def row(queue: str = "q", at: int = 0, **kw: int) -> Rollup:
    counts = {k: kw.pop(k, 0) for k in ("completed", "failed", "cancelled", "retried")}
    buckets = {int(k[1:]): v for k, v in kw.items()}  # b17=3: 3 runs in bucket 17
    return Rollup(queue, minute(at), **counts, buckets=buckets)


async def test_adds_of_one_minute_sum_every_counter_and_bucket(store: Store) -> None:
    await store.add_rollups([row(completed=2, failed=1, b10=2, b20=1)])
    await store.add_rollups([row(completed=1, cancelled=1, retried=3, b20=4, b30=1)])
    assert await store.read_rollups("q", T0) == [
        row(completed=3, failed=1, cancelled=1, retried=3, b10=2, b20=5, b30=1)
    ]


async def test_concurrent_adds_from_two_writers_lose_nothing(store: Store) -> None:
    """Two consumers flushing the same new (queue, minute) rows at once: both first adds
    race to create each row, and every increment lands."""
    one = [row(at=0, completed=1, b5=1), row(at=1, failed=2, b6=2)]
    two = [row(at=0, completed=4, b5=2, b7=1), row(at=1, failed=1, b6=1)]
    await asyncio.gather(*(store.add_rollups(rows) for rows in (one, two) * 3))
    assert await store.read_rollups("q", T0) == [
        row(at=0, completed=15, b5=9, b7=3),
        row(at=1, failed=9, b6=9),
    ]


async def test_a_read_answers_one_queue_from_the_minute_of_since(store: Store) -> None:
    await store.add_rollups(
        [row(at=n, completed=n + 1) for n in range(4)] + [row("other", at=2, failed=1)]
    )
    since = minute(1) + timedelta(seconds=30)  # within minute 1: minute 1 is included
    got = await store.read_rollups("q", since)
    assert [(r.minute, r.completed) for r in got] == [(minute(n), n + 1) for n in (1, 2, 3)]
    assert await store.read_rollups("other", T0) == [row("other", at=2, failed=1)]
    assert await store.read_rollups("nobody", T0) == []


async def test_a_prune_deletes_the_minutes_before_a_time(store: Store) -> None:
    await store.add_rollups([row(at=n, completed=1, b3=1) for n in range(3)])
    assert await store.prune_rollups(minute(2)) == 2
    assert await store.read_rollups("q", T0) == [row(at=2, completed=1, b3=1)]
    await store.add_rollups([row(at=0, completed=1)])  # a late add recreates the row alone
    assert await store.read_rollups("q", T0) == [
        row(at=0, completed=1),
        row(at=2, completed=1, b3=1),
    ]
    assert await store.prune_rollups(minute(0)) == 0


async def test_an_empty_add_writes_nothing(store: Store) -> None:
    await store.add_rollups([])
    assert await store.read_rollups("q", T0) == []
