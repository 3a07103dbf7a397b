"""Delivery adapters for the delivery contract (tests/contract/delivery/): a :class:`Harness`
per kind opens adapters on one "broker" (``peer`` is another process's adapter on it), and an
:class:`Inbox` keeps what a consumer received."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

from shared.adapters.inprocess.queues import InProcessDelivery, LocalCancels, LocalEvents
from shared.adapters.rabbitmq.broker import RabbitDelivery
from shared.ports import CancelSignals, CompletionEvents, Delivered, WorkQueue
from tests.support.services import delete_rabbit_queues

#: How long "nothing more arrives" is watched: well above a local broker's delivery latency.
QUIET = 0.3


class Inbox:
    """A consume callback that keeps deliveries, with their arrival times, for the test."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[tuple[float, Delivered]] = asyncio.Queue()

    async def __call__(self, delivery: Delivered) -> None:
        self.items.put_nowait((time.monotonic(), delivery))

    async def arrival(self, wait: float = 5.0) -> tuple[float, Delivered]:
        """The next delivery and when (``time.monotonic()``) it arrived."""
        return await asyncio.wait_for(self.items.get(), wait)

    async def next(self, wait: float = 5.0) -> Delivered:
        return (await self.arrival(wait))[1]

    async def nothing(self, within: float = QUIET) -> None:
        await asyncio.sleep(within)
        if not self.items.empty():
            unexpected = self.items.get_nowait()[1]
            raise AssertionError(f"unexpected delivery of {unexpected.message_id}")


class Harness:
    """Opens adapters of one kind on one broker; closes them (and cleans up) at the end."""

    def __init__(self) -> None:
        self.opened: list[WorkQueue] = []

    async def new(self, queues: Sequence[str]) -> WorkQueue:
        """An adapter of a new process, opened for ``queues``."""
        raise NotImplementedError

    async def peer(self, delivery: WorkQueue, queues: Sequence[str]) -> WorkQueue:
        """Another process's adapter on ``delivery``'s broker, opened for ``queues``."""
        raise NotImplementedError

    def events(self, delivery: WorkQueue) -> CompletionEvents:
        """The completion events of ``delivery``'s process."""
        raise NotImplementedError

    def cancels(self, delivery: WorkQueue) -> CancelSignals:
        """The cancel signals of ``delivery``'s process."""
        raise NotImplementedError

    async def cleanup(self) -> None:
        for delivery in self.opened:
            await delivery.close()


class InProcessHarness(Harness):
    def __init__(self) -> None:
        super().__init__()
        self.local = LocalEvents()  # one process: every "peer" is this process
        self.local_cancels = LocalCancels()

    def events(self, delivery: WorkQueue) -> CompletionEvents:
        return self.local

    def cancels(self, delivery: WorkQueue) -> CancelSignals:
        return self.local_cancels

    async def new(self, queues: Sequence[str]) -> WorkQueue:
        delivery = InProcessDelivery()
        self.opened.append(delivery)
        await delivery.open(queues)
        return delivery

    async def peer(self, delivery: WorkQueue, queues: Sequence[str]) -> WorkQueue:
        await delivery.open(queues)
        return delivery


class RabbitHarness(Harness):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.prefix = f"test.{uuid.uuid4().hex[:10]}."
        self.names: set[str] = set()

    def adapter(self, url: str | None = None) -> RabbitDelivery:
        """An unopened adapter with this test's prefix (closed at cleanup)."""
        delivery = RabbitDelivery(url or self.url, prefix=self.prefix, publish_timeout=2)
        self.opened.append(delivery)
        return delivery

    async def new(self, queues: Sequence[str]) -> WorkQueue:
        self.names.update(queues)
        delivery = self.adapter()
        await delivery.open(queues)
        return delivery

    async def peer(self, delivery: WorkQueue, queues: Sequence[str]) -> WorkQueue:
        return await self.new(queues)

    def events(self, delivery: WorkQueue) -> CompletionEvents:
        assert isinstance(delivery, RabbitDelivery)
        return delivery  # one adapter class implements the three ports

    def cancels(self, delivery: WorkQueue) -> CancelSignals:
        assert isinstance(delivery, RabbitDelivery)
        return delivery

    async def cleanup(self) -> None:
        try:
            await super().cleanup()
        finally:
            await delete_rabbit_queues(self.url, self.prefix, sorted(self.names))
