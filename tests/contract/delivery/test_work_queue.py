"""The work queue (``shared.ports.WorkQueue``) on every adapter: publish, consume and settle,
flow control, health and shutdown; and the two contract points only RabbitMQ can show
(unsettled deliveries of a closed adapter reach a new one, where in-process nothing survives
the adapter and the store's start-up recovery republishes; an unreachable broker).

A :class:`Harness` (``tests.support.deliveries``) opens adapters on one "broker": ``peer`` is
another process's adapter on the same broker (RabbitMQ: a new instance; in-process: the same
one, which is its whole broker). The completion events and the cancel signals of the other
delivery ports: test_completion_events.py, test_cancel_signals.py.
"""

from __future__ import annotations

import time

import pytest

from shared.ports import Delivered, DeliveryUnavailable, WorkQueue
from tests.support.deliveries import Harness, Inbox, RabbitHarness
from tests.support.sockets import free_port
from tests.support.waiting import wait_until

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


async def test_stop_consuming_some_queues_then_all(harness: Harness) -> None:
    delivery = await harness.new(["one", "two"])
    inbox = Inbox()

    async def take() -> Delivered:
        item = await inbox.next(10)
        await item.ack()
        return item

    await delivery.consume(["one", "two"], inbox, prefetch=4)
    await delivery.stop_consuming(["one"])
    await delivery.publish("one", "m1")
    await delivery.publish("two", "m2")
    item = await take()
    assert (item.queue, item.message_id) == ("two", "m2")
    await inbox.nothing()  # "one" is stopped
    await delivery.consume(["one"], inbox, prefetch=4)
    item = await take()
    assert (item.queue, item.message_id) == ("one", "m1")
    await delivery.publish("two", "m3")
    item = await take()
    assert (item.queue, item.message_id) == ("two", "m3")
    await delivery.stop_consuming()  # every queue
    await delivery.publish("two", "m4")
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


# --- ready count ------------------------------------------------------------------------


async def test_ready_count_counts_what_waits_not_what_a_consumer_holds(harness: Harness) -> None:
    consumer = await harness.new(["q"])
    gateway = await harness.peer(consumer, ["q"])
    assert await gateway.ready_count("q") == 0
    for n in range(3):
        await gateway.publish("q", f"m-{n}")
    await wait_until(lambda: _ready_is(gateway, 3), "3 ready")
    inbox = Inbox()
    await consumer.consume(["q"], inbox, prefetch=1)
    held = await inbox.next()  # unsettled: in the consumer's hands, no longer ready
    await wait_until(lambda: _ready_is(gateway, 2), "2 ready")
    await held.ack()
    await (await inbox.next()).ack()
    await (await inbox.next()).ack()
    await wait_until(lambda: _ready_is(gateway, 0), "none ready")
    await gateway.close()
    assert await gateway.ready_count("q") is None  # closed: unknown


async def _ready_is(delivery: WorkQueue, expected: int) -> bool:
    return await delivery.ready_count("q") == expected


@pytest.mark.distributed
async def test_ready_count_of_an_undeclared_rabbitmq_queue_is_unknown(
    rabbit: RabbitHarness,
) -> None:
    delivery = await rabbit.new(["q"])
    assert await delivery.ready_count("never-declared") is None
    # The failed passive declare closed only its own channel: publishing still works.
    await delivery.publish("q", "m")
    await wait_until(lambda: _ready_is(delivery, 1), "1 ready")
