"""In-process delivery for the embedded mode: one asyncio queue of ids per queue name.

:class:`InProcessDelivery` is the work queue; :class:`LocalEvents` the completion events and
:class:`LocalCancels` the cancel signals (subscribers called directly, within this process).

Nothing here is durable; durability comes from the store. On start-up the embedded consumer
republishes every ``PENDING`` record (see ``consumer.recovery``), so a message survives the
process being killed. Flow control mirrors RabbitMQ's prefetch: at most ``prefetch``
deliveries per queue are unsettled at a time.

``publish_later`` is an event-loop timer (not durable either: after a restart the start-up
recovery republishes the waiting retry, whose claim is deferred until its due time, which
schedules it again).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.domain.message import MessageRecord
from shared.ports import (
    CancelCallback,
    CarriedRecord,
    CompletionCallback,
    DeliveryCallback,
    DeliveryUnavailable,
    EventCallback,
    PauseCallback,
)


@dataclass
class _Lane:
    items: asyncio.Queue[tuple[str, int]] = field(default_factory=asyncio.Queue)
    slots: asyncio.Semaphore | None = None
    pump: asyncio.Task[None] | None = None


class InProcessDelivered:
    """One in-process delivery; settle once with :meth:`ack` or :meth:`requeue`."""

    def __init__(self, lane: _Lane, queue: str, message_id: str, count: int) -> None:
        self._lane = lane
        self._slots = lane.slots  # the pump's semaphore at delivery time (see consume)
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
        if self._slots is not None:
            self._slots.release()

    async def ack(self) -> None:
        self._settle()

    async def requeue(self) -> None:
        self._settle()
        self._lane.items.put_nowait((self._message_id, self._count + 1))


class InProcessDelivery:
    """:class:`shared.ports.WorkQueue` within one process."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}
        self._closed = False
        self._timers: set[asyncio.TimerHandle] = set()
        #: Nothing published here outlives this process (see ``WorkQueue.survives_restart``).
        self.survives_restart = False

    def _lane(self, queue: str) -> _Lane:
        return self._lanes.setdefault(queue, _Lane())

    async def open(self, queues: Sequence[str]) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        for queue in queues:
            self._lane(queue)

    async def publish(self, queue: str, message_id: str) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        self._lane(queue).items.put_nowait((message_id, 0))

    async def publish_many(self, queue: str, message_ids: Sequence[str]) -> set[str]:
        if self._closed:
            return set(message_ids)
        for message_id in message_ids:
            self._lane(queue).items.put_nowait((message_id, 0))
        return set()

    async def publish_later(self, queue: str, message_id: str, delay: float) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")
        lane = self._lane(queue)

        def fire() -> None:
            self._timers.discard(timer)
            lane.items.put_nowait((message_id, 0))

        timer = asyncio.get_running_loop().call_later(max(delay, 0.0), fire)
        self._timers.add(timer)

    def depth(self, queue: str) -> int:
        """Messages waiting (not yet delivered) on ``queue``."""
        return self._lane(queue).items.qsize()

    async def ready_count(self, queue: str) -> int | None:
        """Exact: the messages waiting on ``queue`` (:meth:`depth`); None once closed."""
        return None if self._closed else self.depth(queue)

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        if self._closed:  # a pump started now would outlive close()
            raise DeliveryUnavailable("delivery is closed")
        for queue in queues:
            lane = self._lane(queue)
            if lane.pump is not None:
                continue  # already consumed
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

    async def stop_consuming(self, queues: Sequence[str] | None = None) -> None:
        names = list(self._lanes) if queues is None else [q for q in queues if q in self._lanes]
        lanes = [self._lanes[name] for name in names]
        pumps = [lane.pump for lane in lanes if lane.pump is not None]
        for pump in pumps:
            pump.cancel()
        for pump in pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        for lane in lanes:
            lane.pump = None

    async def ping(self) -> None:
        if self._closed:
            raise DeliveryUnavailable("delivery is closed")

    async def close(self) -> None:
        await self.stop_consuming()
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()


class LocalEvents:
    """:class:`shared.ports.CompletionEvents` within one process: subscribers called directly
    (a completion's record is handed over as is, whatever its size: nothing is encoded)."""

    #: The subscribers are this process's: a publish calls them before it returns.
    hears_itself = True

    def __init__(self) -> None:
        self._subscribers: list[CompletionCallback] = []
        self._watchers: list[EventCallback] = []

    async def publish_event(
        self,
        queue: str,
        message_id: str,
        *,
        final: bool = True,
        record: MessageRecord | None = None,
    ) -> None:
        if not final:
            for watcher in self._watchers:
                watcher(queue, message_id)
            return
        carried: CarriedRecord | None = None if record is None else (lambda: record)
        for callback in self._subscribers:
            callback(queue, message_id, carried)

    async def subscribe_events(self, callback: EventCallback) -> None:
        self._subscribers.append(lambda queue, message_id, _carried: callback(queue, message_id))

    async def subscribe_completions(self, callback: CompletionCallback) -> None:
        self._subscribers.append(callback)

    async def subscribe_changes(self, callback: EventCallback) -> None:
        self._watchers.append(callback)


class LocalCancels:
    """:class:`shared.ports.CancelSignals` within one process: subscribers called directly."""

    def __init__(self) -> None:
        self._subscribers: list[CancelCallback] = []
        self._pause_subscribers: list[PauseCallback] = []

    async def publish_cancel(self, queue: str, message_id: str) -> None:
        for callback in self._subscribers:
            callback(queue, message_id)

    async def subscribe_cancels(self, callback: CancelCallback) -> None:
        self._subscribers.append(callback)

    async def publish_pause_change(self, queue: str) -> None:
        for callback in self._pause_subscribers:
            callback(queue)

    async def subscribe_pause_changes(self, callback: PauseCallback) -> None:
        self._pause_subscribers.append(callback)
