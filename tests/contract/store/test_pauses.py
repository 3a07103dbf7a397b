"""Queue pauses (``shared.ports.QueuePauses``), over both store adapters: a pause is stored
once (idempotent: the first time and subject stay), read back, forgotten on resume; a parked
record is refused by the claim and by every recovery scan, and unparking gives each parked
record back once, due and unpublished."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from shared.domain.message import DeliveryState, Status, utcnow
from shared.domain.pause import PauseState
from shared.ports import ClaimOutcome, MessageRef, Store
from tests.support.stores import Q, collect, inserted, later, new

AT = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_pause_is_stored_once_and_forgotten_on_resume(store: Store) -> None:
    assert await store.paused_queues() == []
    first = await store.pause_queue(PauseState(Q, AT, "alice"))
    assert first == PauseState(Q, AT, "alice")
    again = await store.pause_queue(PauseState(Q, utcnow(), "bob"))
    assert again == first
    await store.pause_queue(PauseState("other", AT, None))
    states = sorted(await store.paused_queues(), key=lambda s: s.queue)
    assert states == [PauseState("other", AT, None), first]
    assert await store.resume_queue(Q)
    assert not await store.resume_queue(Q)
    assert await store.paused_queues() == [PauseState("other", AT, None)]


async def test_a_parked_record_is_refused_by_the_claim_and_the_scans(store: Store) -> None:
    parked, running = await inserted(store, 2)
    await store.mark_published([MessageRef(Q, parked.id), MessageRef(Q, running.id)])
    assert await store.park(Q, parked.id, utcnow())
    assert not await store.park(Q, parked.id, utcnow())  # parked already: not due
    got = await store.get(Q, parked.id)
    assert got is not None and got.status is Status.PENDING
    assert got.delivery is DeliveryState.PARKED
    assert got.to_public()["not_before"] is None
    claim = await store.claim(Q, parked.id, "a", later())
    assert claim.outcome is ClaimOutcome.DEFERRED
    assert await collect(store.pending()) == [running.id]
    assert await store.take_overdue(utcnow()) == []
    assert await store.count_queued(Q) == 1  # step (e) of the sweep counts only `running`
    assert await store.idle_queued(Q, later(), 10) == [MessageRef(Q, running.id)]
    await store.claim(Q, running.id, "a", later())
    assert not await store.park(Q, running.id, utcnow())  # not PENDING: never parked


async def test_unpark_gives_each_record_back_once(store: Store) -> None:
    records = await inserted(store, 4)
    for record in records:
        assert await store.park(Q, record.id, utcnow())
    assert await store.unpark(Q, records[0].id) == [MessageRef(Q, records[0].id)]
    assert await store.unpark("other") == []
    rest = await store.unpark(Q)
    assert sorted(r.id for r in rest) == sorted(r.id for r in records[1:])
    assert await store.unpark(Q) == []
    for record in records:
        got = await store.get(Q, record.id)
        assert got is not None and got.delivery is DeliveryState.QUEUED
    claim = await store.claim(Q, records[0].id, "a", later())
    assert claim.outcome is ClaimOutcome.CLAIMED


async def test_a_delayed_record_is_not_parked_before_it_is_due(store: Store) -> None:
    record = replace(new(), not_before=later())
    await store.insert(record)
    assert not await store.park(Q, record.id, utcnow())
    got = await store.get(Q, record.id)
    assert got is not None and got.delivery is DeliveryState.DELAYED
