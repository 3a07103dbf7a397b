"""The consumer's rollup counter (``consumer.run_counts``): runs are counted per (queue,
minute) by outcome and duration bucket, a take hands them over once, and a flush that the
store refuses drops them (never added twice) while the next one goes through; the loop
prunes old rows and flushes once more when stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from consumer.run_counts import KEEP_SECONDS, RollupCounter, flush, flush_rollups_forever
from shared.domain.message import Status, utcnow
from shared.domain.run_stats import Rollup, bucket_of, minute_of
from shared.platform.tasks import cancel_and_wait
from shared.ports import StoreUnavailable
from tests.support.waiting import wait_until


class Recorded:
    """A ``Rollups`` fake that keeps every add (or fails while ``down``)."""

    def __init__(self) -> None:
        self.adds: list[list[Rollup]] = []
        self.prunes: list[datetime] = []
        self.down = False

    async def add_rollups(self, rows: Sequence[Rollup]) -> None:
        if self.down:
            raise StoreUnavailable("down")
        self.adds.append(list(rows))

    async def read_rollups(self, queue: str, since: datetime) -> list[Rollup]:
        raise NotImplementedError

    async def prune_rollups(self, before: datetime) -> int:
        self.prunes.append(before)
        return 0


def test_runs_are_counted_by_queue_outcome_and_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("consumer.run_counts.time.time", lambda: 1_800_000_030.0)
    counter = RollupCounter()
    counter.add("a", Status.COMPLETE, 0.01)
    counter.add("a", Status.COMPLETE, 0.01)
    counter.add("a", Status.ERROR, 2.0)
    counter.add("a", Status.PENDING, 0.5)
    counter.add("b", Status.CANCELLED, 0.01)
    minute = minute_of(1_800_000_030.0)
    assert sorted(counter.take(), key=lambda r: r.queue) == [
        Rollup("a", minute, 2, 1, 0, 1, {bucket_of(0.01): 2, bucket_of(2.0): 1, bucket_of(0.5): 1}),
        Rollup("b", minute, 0, 0, 1, 0, {bucket_of(0.01): 1}),
    ]
    assert counter.take() == []


def test_a_new_minute_starts_a_new_row(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_800_000_059.0]
    monkeypatch.setattr("consumer.run_counts.time.time", lambda: now[0])
    counter = RollupCounter()
    counter.add("a", Status.COMPLETE, 0.01)
    now[0] += 1
    counter.add("a", Status.COMPLETE, 0.01)
    assert [r.minute for r in counter.take()] == [minute_of(1_800_000_000), minute_of(now[0])]


async def test_a_refused_flush_is_dropped_and_the_next_goes_through() -> None:
    store, counter = Recorded(), RollupCounter()
    assert await flush(counter, store) == 0 and store.adds == []  # nothing: no write
    counter.add("a", Status.COMPLETE, 0.01)
    store.down = True
    assert await flush(counter, store) == 0
    store.down = False
    counter.add("a", Status.ERROR, 0.02)
    assert await flush(counter, store) == 1
    [[row]] = store.adds
    assert (row.completed, row.failed, row.runs) == (0, 1, 1)


async def test_the_loop_flushes_prunes_old_rows_and_flushes_once_more_when_stopped() -> None:
    store, counter = Recorded(), RollupCounter()
    loop = asyncio.create_task(flush_rollups_forever(counter, store, 0.01))
    counter.add("a", Status.COMPLETE, 0.01)
    await wait_until(lambda: store.adds, "the first flush")
    [before] = store.prunes  # the first pass prunes; the next one a minute later
    keep = utcnow() - before
    assert timedelta(seconds=KEEP_SECONDS) <= keep < timedelta(seconds=KEEP_SECONDS + 60)
    counter.add("a", Status.ERROR, 0.01)  # counted after the last pass: flushed at the stop
    assert await cancel_and_wait(loop)
    assert [row.failed for row in store.adds[-1]] == [1]
