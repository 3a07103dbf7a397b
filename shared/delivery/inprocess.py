"""In-process delivery for the embedded mode: one asyncio queue of ids per queue name.

Nothing here is durable; durability comes from the store. On start-up the embedded consumer
republishes every ``PENDING`` record (see ``consumer.recovery``), so a message survives the
process being killed. Flow control mirrors RabbitMQ's prefetch: at most ``prefetch``
deliveries per queue are unsettled at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.ports import DeliveryCallback, DeliveryUnavailable


@dataclass
class _Lane:
    items: asyncio.Queue[tuple[str, int]] = field(default_factory=asyncio.Queue)
    slots: asyncio.Semaphore | None = None
    pump: asyncio.Task[None] | None = None


class InProcessDelivered:
    """One in-process delivery; settle once with :meth:`ack` or :meth:`requeue`."""

    def __init__(self, lane: _Lane, queue: str, message_id: str, count: int) -> None:
        self._lane = lane
        self._queue = queue
        self._message_id = message_id
        self._count = count
        self._settled = False

    @property
    def queue(self) -> str:
        return self._queue

    @property
    def message_id(self) -> str:
        return self._message_id

    @property
    def delivery_count(self) -> int:
        return self._count

    def _settle(self) -> None:
        if self._settled:
            raise RuntimeError(f"delivery of {self._message_id} settled twice")
        self._settled = True
        if self._lane.slots is not None:
            self._lane.slots.release()

    async def ack(self) -> None:
        self._settle()

    async def requeue(self) -> None:
        self._settle()
        self._lane.items.put_nowait((self._message_id, self._count + 1))


class InProcessDelivery:
    """:class:`shared.ports.Delivery` within one process."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}
        self._closed = False

    def _lane(self, queue: str) -> _Lane:
        return self._lanes.setdefault(queue, _Lane())

    async def open(self, queues: Sequence[str]) -> None:
        for queue in queues:
            self._lane(queue)

    async def publish(self, queue: str, message_id: str) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        self._lane(queue).items.put_nowait((message_id, 0))

    def depth(self, queue: str) -> int:
        """Messages waiting (not yet delivered) on ``queue``."""
        return self._lane(queue).items.qsize()

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        for queue in queues:
            lane = self._lane(queue)
            lane.slots = asyncio.Semaphore(prefetch)
            lane.pump = asyncio.create_task(
                self._pump(queue, lane, callback), name=f"deliver:{queue}"
            )

    async def _pump(self, queue: str, lane: _Lane, callback: DeliveryCallback) -> None:
        assert lane.slots is not None
        while True:
            await lane.slots.acquire()
            message_id, count = await lane.items.get()
            await callback(InProcessDelivered(lane, queue, message_id, count))

    async def stop_consuming(self) -> None:
        pumps = [lane.pump for lane in self._lanes.values() if lane.pump is not None]
        for pump in pumps:
            pump.cancel()
        for pump in pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        for lane in self._lanes.values():
            lane.pump = None

    async def ping(self) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")

    async def close(self) -> None:
        await self.stop_consuming()
        self._closed = True
