"""Unit tests of the consumer's heartbeat (``consumer.presence``) over a fake register: what a
beat describes, a store outage skipped (logged) without ending the loop, and forgotten
entries pruned at the first beat that reaches the store and not again within a minute."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest

from consumer.presence import PresenceConfig, beat_forever
from consumer.worker import Consumer
from shared.ports import StoreUnavailable, WorkerInfo


class FakeWorkers:
    """Records beats and prunes; the first beat fails as an unreachable store would."""

    def __init__(self, wanted: int) -> None:
        self.beats: list[WorkerInfo] = []
        self.prunes: list[datetime] = []
        self.calls = 0
        self.enough = asyncio.Event()
        self._wanted = wanted

    async def beat(self, info: WorkerInfo) -> None:
        self.calls += 1
        if self.calls == 1:
            raise StoreUnavailable("store down")
        self.beats.append(info)
        if len(self.beats) >= self._wanted:
            self.enough.set()

    async def list_workers(self) -> list[WorkerInfo]:
        return list(self.beats)

    async def prune(self, older_than: datetime) -> int:
        self.prunes.append(older_than)
        return 0


async def test_beats_describe_the_consumer_and_survive_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = cast(
        Consumer,
        SimpleNamespace(owner="h:1:abcd", queues=["b", "a"], concurrency=4, in_flight=2),
    )
    workers = FakeWorkers(wanted=3)
    config = PresenceConfig(interval_seconds=0.001, forget_seconds=3600.0, version="1.0")
    with caplog.at_level(logging.WARNING, logger="consumer.presence"):
        task = asyncio.create_task(beat_forever(workers, consumer, config))
        await asyncio.wait_for(workers.enough.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert "worker heartbeat skipped: store down" in caplog.text
    first, second, third = workers.beats[:3]
    assert (first.id, first.queues, first.concurrency, first.in_flight, first.version) == (
        "h:1:abcd",
        ("a", "b"),
        4,
        2,
        "1.0",
    )
    assert first.started_at == second.started_at == third.started_at <= first.last_seen_at
    assert first.last_seen_at <= second.last_seen_at <= third.last_seen_at
    [pruned] = workers.prunes  # once: the next is a minute later
    assert first.last_seen_at - pruned == timedelta(hours=1)
