"""The delivery contract (``shared.ports.WorkQueue`` and the events and cancel ports), run against
every adapter.

``inprocess`` is :class:`InProcessDelivery`; ``rabbitmq`` is :class:`RabbitDelivery` on the
shared broker (127.0.0.1:5672) under a queue prefix of the test's own, whose queues (and
events exchange) are deleted afterwards. ``pytest -m "not distributed"`` runs the in-process
half alone.

A :class:`Harness` opens adapters on one "broker": ``peer`` is another process's adapter on
the same broker (RabbitMQ: a new instance; in-process: the same one, which is its whole
broker). Two contract points only RabbitMQ can show have their own section: unsettled
deliveries of a closed adapter reach a new one (in-process nothing survives the adapter; the
store's start-up recovery republishes), and an unreachable broker. The completion events
(``publish_event``/``subscribe_events``) are tested apart, in :class:`TestCompletionEvents`,
and so are the cancel signals of the control channel (``CancelSignals``), in
:class:`TestCancelSignals`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest

from shared.adapters.inprocess.queues import InProcessDelivery, LocalCancels, LocalEvents
from shared.adapters.rabbitmq.broker import RabbitDelivery
from shared.ports import (
    CancelSignals,
    CompletionEvents,
    Delivered,
    DeliveryUnavailable,
    WorkQueue,
)
from tests.support.services import delete_rabbit_queues, require_rabbitmq
from tests.support.sockets import free_port

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


@pytest.fixture(params=["inprocess", pytest.param("rabbitmq", marks=pytest.mark.distributed)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    made = InProcessHarness() if request.param == "inprocess" else RabbitHarness(require_rabbitmq())
    try:
        yield made
    finally:
        await made.cleanup()


@pytest.fixture
async def rabbit() -> AsyncIterator[RabbitHarness]:
    made = RabbitHarness(require_rabbitmq())
    try:
        yield made
    finally:
        await made.cleanup()


# --- publish, consume, settle ----------------------------------------------------------


async def test_publish_then_consume_delivers_id_queue_and_count_zero(harness: Harness) -> None:
    consumer = await harness.new(["q"])
    gateway = await harness.peer(consumer, ["q"])
    inbox = Inbox()
    await consumer.consume(["q"], inbox, prefetch=4)
    await gateway.publish("q", "m-1")
    got = await inbox.next()
    assert (got.queue, got.message_id, got.delivery_count) == ("q", "m-1", 0)
    await got.ack()
    await inbox.nothing()


async def test_acked_message_is_not_redelivered(harness: Harness) -> None:
    delivery = await harness.new(["q"])
    inbox = Inbox()
    await delivery.consume(["q"], inbox, prefetch=4)
    await delivery.publish("q", "done")
    await (await inbox.next()).ack()
    await delivery.stop_consuming()
    await delivery.publish("q", "later")
    await delivery.consume(["q"], inbox, prefetch=4)
    assert (await inbox.next()).message_id == "later"
    await inbox.nothing()


async def test_requeue_redelivers_with_count_incremented(harness: Harness) -> None:
    delivery = await harness.new(["q"])
    inbox = Inbox()
    await delivery.consume(["q"], inbox, prefetch=1)
    await delivery.publish("q", "again")
    for expected in range(3):
        got = await inbox.next()
        assert (got.queue, got.message_id, got.delivery_count) == ("q", "again", expected)
        if expected < 2:
            await got.requeue()
    await got.ack()
    await inbox.nothing()


async def test_publish_many_returns_nothing_when_all_are_accepted(harness: Harness) -> None:
    delivery = await harness.new(["q"])
    ids = [f"m-{i}" for i in range(5)]
    assert await delivery.publish_many("q", ids) == set()
    assert await delivery.publish_many("q", []) == set()
    inbox = Inbox()
    await delivery.consume(["q"], inbox, prefetch=10)
    got = [await inbox.next() for _ in ids]
    assert sorted(d.message_id for d in got) == ids
    assert {(d.queue, d.delivery_count) for d in got} == {("q", 0)}
    await inbox.nothing()


async def test_publish_later_delivers_after_the_delay_not_before(harness: Harness) -> None:
    delay = 0.3  # a RabbitMQ delay tier exactly: not "somewhat early"
    delivery = await harness.new(["q"])
    inbox = Inbox()
    await delivery.consume(["q"], inbox, prefetch=4)
    started = time.monotonic()
    await delivery.publish_later("q", "retry", delay)
    arrived, got = await inbox.arrival(wait=10)
    # Not before: the arrival time proves it without an extra wait. 5 ms absorb the broker's
    # whole-millisecond TTL clock.
    assert arrived - started >= delay - 0.005, arrived - started
    assert (got.queue, got.message_id, got.delivery_count) == ("q", "retry", 0)
    await got.ack()
    await inbox.nothing()


# --- flow control ----------------------------------------------------------------------


async def test_prefetch_bounds_unsettled_deliveries_per_queue(harness: Harness) -> None:
    delivery = await harness.new(["slow", "fast"])
    inbox = Inbox()
    await delivery.consume(["slow", "fast"], inbox, prefetch=2)
    for i in range(3):
        await delivery.publish("slow", f"s-{i}")
    held = [await inbox.next(), await inbox.next()]
    assert {d.queue for d in held} == {"slow"}
    await delivery.publish("fast", "f-0")  # another queue still flows...
    fast = await inbox.next()
    assert (fast.queue, fast.message_id) == ("fast", "f-0")
    await fast.ack()
    await inbox.nothing()  # ...while "slow" holds two unsettled: no third
    await held[0].ack()
    third = await inbox.next()
    assert third.queue == "slow"
    ids = {d.message_id for d in (*held, third)}
    assert ids == {"s-0", "s-1", "s-2"}
    await inbox.nothing()


async def test_stop_consuming_stops_only_the_given_queues(harness: Harness) -> None:
    delivery = await harness.new(["a", "b"])
    inbox = Inbox()
    await delivery.consume(["a", "b"], inbox, prefetch=4)
    await delivery.publish("a", "a-0")
    held = await inbox.next()
    await delivery.stop_consuming(["a"])
    await delivery.publish("a", "a-1")
    await delivery.publish("b", "b-0")
    got = await inbox.next()
    assert (got.queue, got.message_id) == ("b", "b-0")
    await got.ack()
    await inbox.nothing()  # "a" is stopped
    await held.ack()  # an unsettled delivery of a stopped queue can still be settled
    await delivery.consume(["a"], inbox, prefetch=4)  # and consume starts it again
    got = await inbox.next()
    assert (got.queue, got.message_id, got.delivery_count) == ("a", "a-1", 0)
    await got.ack()
    await inbox.nothing()


# --- health and shutdown ---------------------------------------------------------------


async def test_ping_succeeds_when_open(harness: Harness) -> None:
    delivery = await harness.new(["q"])
    await delivery.ping()
    await delivery.consume(["q"], Inbox(), prefetch=1)
    await delivery.ping()


async def test_closed_delivery_refuses_everything(harness: Harness) -> None:
    delivery = await harness.new(["q"])
    await delivery.close()
    with pytest.raises(DeliveryUnavailable):
        await delivery.publish("q", "x")
    with pytest.raises(DeliveryUnavailable):
        await delivery.publish_later("q", "x", 0.1)
    with pytest.raises(DeliveryUnavailable):
        await delivery.ping()
    with pytest.raises(DeliveryUnavailable):
        await delivery.open(["q"])
    with pytest.raises(DeliveryUnavailable):
        await delivery.consume(["q"], Inbox(), prefetch=1)
    assert await delivery.publish_many("q", ["x", "y"]) == {"x", "y"}
    await delivery.close()  # idempotent


# --- RabbitMQ only ---------------------------------------------------------------------


@pytest.mark.distributed
async def test_close_returns_unsettled_deliveries_to_the_queue(rabbit: RabbitHarness) -> None:
    first = await rabbit.new(["q"])
    inbox = Inbox()
    await first.consume(["q"], inbox, prefetch=1)
    await first.publish("q", "held")
    held = await inbox.next()
    await first.close()
    with pytest.raises(DeliveryUnavailable):
        await held.ack()
    second = await rabbit.new(["q"])
    inbox = Inbox()
    await second.consume(["q"], inbox, prefetch=1)
    again = await inbox.next()
    assert (again.queue, again.message_id, again.delivery_count) == ("q", "held", 1)
    await again.ack()


@pytest.mark.distributed
async def test_unreachable_broker_is_unavailable(rabbit: RabbitHarness) -> None:
    delivery = rabbit.adapter(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    with pytest.raises(DeliveryUnavailable):
        await delivery.open(["q"])
    with pytest.raises(DeliveryUnavailable):
        await delivery.publish("q", "x")
    with pytest.raises(DeliveryUnavailable):
        await delivery.publish_later("q", "x", 0.1)
    with pytest.raises(DeliveryUnavailable):
        await delivery.ping()
    with pytest.raises(DeliveryUnavailable):
        await delivery.consume(["q"], Inbox(), prefetch=1)
    assert await delivery.publish_many("q", ["x", "y"]) == {"x", "y"}


# --- completion events (the CompletionEvents port) --------------------------------------


class TestCompletionEvents:
    async def test_published_events_reach_every_subscriber(self, harness: Harness) -> None:
        first = await harness.new(["q"])
        second = await harness.peer(first, ["q"])
        finisher = await harness.peer(first, ["q"])
        seen: list[list[tuple[str, str]]] = [[], []]
        events = harness.events
        await events(first).subscribe_events(lambda queue, mid: seen[0].append((queue, mid)))
        await events(second).subscribe_events(lambda queue, mid: seen[1].append((queue, mid)))
        await events(finisher).publish_event("q", "m-1")
        await events(finisher).publish_event("q", "m-2")
        deadline = time.monotonic() + 5
        expected = [("q", "m-1"), ("q", "m-2")]
        while seen != [expected, expected]:
            assert time.monotonic() < deadline, f"events not received: {seen}"
            await asyncio.sleep(0.02)

    async def test_changes_go_to_change_subscribers_only(self, harness: Harness) -> None:
        first = await harness.new(["q"])
        finisher = await harness.peer(first, ["q"])
        finals: list[str] = []
        changes: list[str] = []
        events = harness.events
        await events(first).subscribe_events(lambda _queue, mid: finals.append(mid))
        await events(first).subscribe_changes(lambda _queue, mid: changes.append(mid))
        await events(finisher).publish_event("q", "c-1", final=False)
        await events(finisher).publish_event("q", "c-2", final=False)
        await events(finisher).publish_event("q", "f-1")
        deadline = time.monotonic() + 5
        while (finals, changes) != (["f-1"], ["c-1", "c-2"]):
            assert time.monotonic() < deadline, f"events not routed: {finals} {changes}"
            await asyncio.sleep(0.02)

    async def test_publish_event_never_raises(self, harness: Harness) -> None:
        delivery = await harness.new(["q"])
        await delivery.close()
        await harness.events(delivery).publish_event("q", "m-1")


# --- cancel signals (the CancelSignals port: the control channel) -----------------------


async def _until(seen: list[list[tuple[str, str]]], expected: list[list[tuple[str, str]]]) -> None:
    deadline = time.monotonic() + 5
    while seen != expected:
        assert time.monotonic() < deadline, f"signals not received: {seen}"
        await asyncio.sleep(0.02)


class TestCancelSignals:
    async def test_a_cancel_reaches_every_subscriber_of_every_process(
        self, harness: Harness
    ) -> None:
        consumer_a = await harness.new(["q"])
        consumer_b = await harness.peer(consumer_a, ["q"])
        gateway = await harness.peer(consumer_a, ["q"])
        seen: list[list[tuple[str, str]]] = [[], []]
        cancels = harness.cancels
        await cancels(consumer_a).subscribe_cancels(lambda q, mid: seen[0].append((q, mid)))
        await cancels(consumer_b).subscribe_cancels(lambda q, mid: seen[1].append((q, mid)))
        await cancels(gateway).publish_cancel("q", "m-1")
        await cancels(gateway).publish_cancel("q", "m-2")
        expected = [("q", "m-1"), ("q", "m-2")]
        await _until(seen, [expected, expected])

    async def test_cancels_and_completions_travel_apart(self, harness: Harness) -> None:
        consumer = await harness.new(["q"])
        gateway = await harness.peer(consumer, ["q"])
        heard: list[list[tuple[str, str]]] = [[], []]
        await harness.cancels(consumer).subscribe_cancels(lambda q, m: heard[0].append((q, m)))
        await harness.events(gateway).subscribe_events(lambda q, m: heard[1].append((q, m)))
        await harness.events(consumer).publish_event("q", "done-1")
        await harness.cancels(gateway).publish_cancel("q", "stop-1")
        await _until(heard, [[("q", "stop-1")], [("q", "done-1")]])
        await asyncio.sleep(QUIET)  # and nothing crosses over later
        assert heard == [[("q", "stop-1")], [("q", "done-1")]]

    async def test_publish_cancel_never_raises(self, harness: Harness) -> None:
        delivery = await harness.new(["q"])
        await delivery.close()
        await harness.cancels(delivery).publish_cancel("q", "m-1")


@pytest.mark.distributed
async def test_the_control_exchange_is_its_own_fanout(rabbit: RabbitHarness) -> None:
    delivery = await rabbit.new(["q"])
    assert isinstance(delivery, RabbitDelivery)
    assert delivery.control_exchange == rabbit.prefix + "control"
    assert delivery.control_exchange != delivery.events_exchange
