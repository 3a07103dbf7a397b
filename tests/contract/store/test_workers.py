"""Store contract for the workers register (``shared.ports.operations.Workers``), against both
adapters: a beat creates or replaces its worker's entry whole, the list is ordered by id,
and prune deletes exactly the entries last seen before its time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from shared.ports import Store, WorkerInfo

#: Whole milliseconds: MongoDB keeps dates to the millisecond.
T0 = datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC)


def worker(worker_id: str, seen: datetime = T0, **changes: object) -> WorkerInfo:
    info = WorkerInfo(
        id=worker_id,
        host="host-a",
        pid=4242,
        version="1.2.3",
        queues=("alpha", "beta"),
        concurrency=8,
        in_flight=0,
        started_at=T0 - timedelta(minutes=5),
        last_seen_at=seen,
    )
    return dataclasses.replace(info, **changes)  # type: ignore[arg-type]


async def test_a_beat_creates_then_replaces_its_entry(store: Store) -> None:
    assert await store.list_workers() == []
    first = worker("host-a:4242:0a1b")
    await store.beat(first)
    assert await store.list_workers() == [first]

    later = worker("host-a:4242:0a1b", T0 + timedelta(seconds=5), in_flight=3, queues=("alpha",))
    await store.beat(later)
    assert await store.list_workers() == [later]


async def test_the_list_is_every_worker_ordered_by_id(store: Store) -> None:
    for worker_id in ("m:2:b", "k:9:z", "m:1:a"):
        await store.beat(worker(worker_id))
    assert [w.id for w in await store.list_workers()] == ["k:9:z", "m:1:a", "m:2:b"]


async def test_prune_deletes_only_the_entries_seen_before_its_time(store: Store) -> None:
    await store.beat(worker("old", T0 - timedelta(hours=2)))
    await store.beat(worker("edge", T0))
    await store.beat(worker("fresh", T0 + timedelta(seconds=1)))
    assert await store.prune(T0) == 1
    assert [w.id for w in await store.list_workers()] == ["edge", "fresh"]
    assert await store.prune(T0) == 0
