"""Store contract for cron schedules, against both adapters: a record id is inserted once
(``RecordExists``, atomically under concurrency) and schedule states
(``shared.ports.schedules``) anchor, advance and are forgotten as documented."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.message import MessageRecord
from shared.ports import RecordExists, ScheduleState, Store

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


async def test_an_id_is_inserted_once(store: Store) -> None:
    first = MessageRecord.new("q", {"n": 1}, "fixed-id")
    await store.insert(first)
    with pytest.raises(RecordExists):
        await store.insert(MessageRecord.new("q", {"n": 2}, "fixed-id"))
    got = await store.get("q", "fixed-id")
    assert got is not None and got.request == {"n": 1}


async def test_concurrent_inserts_of_one_id_make_one_record(store: Store) -> None:
    records = [MessageRecord.new("q", {"n": n}, "contended") for n in range(8)]
    results = await asyncio.gather(*(store.insert(r) for r in records), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, RecordExists) for r in results if r is not None)
    assert len(await store.list_records("q", None, 10, None)) == 1


def state(tick: datetime = T0, fingerprint: str = "f1", name: str = "s") -> ScheduleState:
    return ScheduleState("q", name, fingerprint, tick)


async def test_schedule_state_anchor_advance_and_forget(store: Store) -> None:
    assert await store.schedule_states() == []
    assert await store.anchor_schedule(state()) is True
    assert await store.anchor_schedule(state(T0 + timedelta(hours=1))) is False  # same cron
    assert await store.schedule_states() == [state()]

    tick = T0 + timedelta(minutes=5)
    assert await store.advance_schedule("q", "s", "f1", tick, "m1") is True
    assert await store.advance_schedule("q", "s", "f1", tick, "m1-again") is False
    assert await store.advance_schedule("q", "s", "f1", T0, "older") is False  # never back
    assert await store.advance_schedule("q", "s", "f-other", tick + timedelta(1), "x") is False
    assert await store.schedule_states() == [ScheduleState("q", "s", "f1", tick, "m1")]

    # A changed cron starts afresh at the new anchor, keeping the last message id.
    later = T0 + timedelta(hours=2)
    assert await store.anchor_schedule(state(later, "f2")) is True
    assert await store.schedule_states() == [ScheduleState("q", "s", "f2", later, "m1")]

    await store.anchor_schedule(state(name="t"))
    assert await store.forget_schedules("q", ["s", "unknown"]) == 1
    assert [s.name for s in await store.schedule_states()] == ["t"]


async def test_concurrent_anchors_write_once(store: Store) -> None:
    anchors = [state(T0 + timedelta(seconds=n)) for n in range(6)]
    results = await asyncio.gather(*(store.anchor_schedule(a) for a in anchors))
    assert results.count(True) == 1
    (kept,) = await store.schedule_states()
    assert kept == anchors[results.index(True)]
