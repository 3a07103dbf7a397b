"""Integration tests of ``shared.adapters.rabbitmq.broker`` against a real RabbitMQ.

Each test uses its own queue prefix (:func:`tests.support.services.queue_prefix`) and deletes its
queues at the end, passed or failed. Inspection goes through a plain aio-pika connection and
``rabbitmqctl list_*``; the reconnect test (``slow``) stops and restarts the application of
the session's private RabbitMQ node (``rabbitmqctl stop_app``/``start_app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import ChannelPreconditionFailed

from shared.adapters.rabbitmq.broker import RabbitDelivery
from shared.ports import Delivered, DeliveryUnavailable
from tests.support.brokers import PrivateRabbit, RabbitNode
from tests.support.services import queue_prefix
from tests.support.waiting import wait_until


class Inbox:
    """A consume callback that collects deliveries for the test to take one by one."""

    def __init__(self) -> None:
        self.items: asyncio.Queue[Delivered] = asyncio.Queue()

    async def __call__(self, delivery: Delivered) -> None:
        self.items.put_nowait(delivery)

    async def next(self, wait: float = 5.0) -> Delivered:
        return await asyncio.wait_for(self.items.get(), wait)

    async def nothing(self, within: float = 0.5) -> None:
        await asyncio.sleep(within)
        assert self.items.empty(), f"unexpected delivery of {self.items.get_nowait().message_id}"


class Env:
    """Deliveries under one unique prefix, an inspection connection, and cleanup."""

    def __init__(
        self, rabbitmq: RabbitNode, admin: AbstractConnection, channel: AbstractChannel
    ) -> None:
        self.rabbitmq = rabbitmq
        self.url = rabbitmq.url
        self.prefix = queue_prefix()
        self.admin = admin
        self.channel = channel
        self.names: set[str] = set()
        self.deliveries: list[RabbitDelivery] = []

    async def delivery(self, queues: Sequence[str], **kwargs: Any) -> RabbitDelivery:
        """An opened delivery with this test's prefix (closed at cleanup)."""
        self.names.update(queues)
        delivery = RabbitDelivery(self.url, prefix=self.prefix, **kwargs)
        self.deliveries.append(delivery)
        await delivery.open(queues)
        return delivery

    async def depth(self, queue: str) -> int:
        """Ready messages on the RabbitMQ queue ``queue`` (a full name)."""
        declared = await self.channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        assert count is not None
        return count

    async def get(self, queue: str, wait: float = 5.0) -> AbstractIncomingMessage:
        """Take (and ack) one message from the RabbitMQ queue ``queue``, waiting for it."""
        declared = await self.channel.declare_queue(queue, passive=True)
        message: AbstractIncomingMessage = await wait_until(
            lambda: declared.get(fail=False), f"a message on {queue}", wait, interval=0.1
        )
        await message.ack()
        return message

    async def reconnect_admin(self) -> None:
        """A fresh inspection connection (after a broker restart killed the old one)."""
        with contextlib.suppress(Exception):
            await self.admin.close()
        self.admin = await aio_pika.connect(self.url)
        self.channel = await self.admin.channel()

    async def cleanup(self) -> None:
        """Close the deliveries, then delete every queue and exchange this test declared
        (each step even if an earlier one failed)."""
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(self.channel.exchange_delete, self.prefix + "events")
            for name in self.names:
                for queue in (self.prefix + name, self.prefix + name + ".dead"):
                    stack.push_async_callback(self.channel.queue_delete, queue)
            for delivery in self.deliveries:
                stack.push_async_callback(delivery.close)


@pytest.fixture
async def env(rabbitmq: RabbitNode) -> AsyncIterator[Env]:
    admin = await aio_pika.connect(rabbitmq.url)
    env = Env(rabbitmq, admin, await admin.channel())
    try:
        yield env
    finally:
        try:
            await env.cleanup()
        finally:
            await env.admin.close()


async def test_open_declares_quorum_queues_with_limit_and_dead_letter(env: Env) -> None:
    await env.delivery(["orders"], delivery_limit=3)
    await env.delivery(["orders"], delivery_limit=3)  # a second process: idempotent
    name = env.prefix + "orders"
    expected: dict[str, Any] = {
        "x-queue-type": "quorum",
        "x-delivery-limit": 2,  # delivery_limit counts deliveries; RabbitMQ counts returns
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": name + ".dead",
    }
    # RabbitMQ accepts a redeclaration only with equivalent arguments...
    await env.channel.declare_queue(name, durable=True, arguments=expected)
    await env.channel.declare_queue(
        name + ".dead", durable=True, arguments={"x-queue-type": "quorum"}
    )
    # ...and refuses a different limit (the channel closes; take another).
    with pytest.raises(ChannelPreconditionFailed):
        await env.channel.declare_queue(
            name, durable=True, arguments={**expected, "x-delivery-limit": 3}
        )
    env.channel = await env.admin.channel()
    listed = await env.rabbitmq.listed("queues", "name", "type", "arguments")
    mine = {q["name"]: q for q in listed if q["name"].startswith(env.prefix)}
    assert set(mine) == {name, name + ".dead"}
    assert {key: value for key, _, value in mine[name]["arguments"]} == expected
    assert mine[name]["type"] == mine[name + ".dead"]["type"] == "quorum"


async def test_publish_consume_ack_roundtrip(env: Env) -> None:
    gateway = await env.delivery(["q"])
    consumer = await env.delivery(["q"])
    inbox = Inbox()
    await consumer.consume(["q"], inbox, prefetch=4)
    await gateway.publish("q", "m-1")
    got = await inbox.next()
    assert (got.queue, got.message_id, got.delivery_count) == ("q", "m-1", 0)
    await got.ack()
    with pytest.raises(RuntimeError):
        await got.ack()
    await inbox.nothing()
    await consumer.close()
    assert await env.depth(env.prefix + "q") == 0


async def test_published_message_properties(env: Env) -> None:
    gateway = await env.delivery(["props"])
    await gateway.publish("props", "abc")
    message = await env.get(env.prefix + "props")
    assert json.loads(message.body) == {"id": "abc", "queue": "props"}
    assert message.message_id == "abc"
    assert message.content_type == "application/json"
    assert message.app_id == "conveyor"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.timestamp is not None
    assert message.headers["conveyor-queue"] == "props"


async def test_concurrent_publishes_all_confirmed(env: Env) -> None:
    gateway = await env.delivery(["bulk"])
    await asyncio.gather(*(gateway.publish("bulk", f"m-{i}") for i in range(300)))
    assert await env.depth(env.prefix + "bulk") == 300


async def test_requeue_redelivers_with_count_incremented(env: Env) -> None:
    delivery = await env.delivery(["retry"])
    inbox = Inbox()
    await delivery.consume(["retry"], inbox, prefetch=1)
    await delivery.publish("retry", "r-1")
    for expected in range(3):
        got = await inbox.next()
        assert (got.message_id, got.delivery_count) == ("r-1", expected)
        if expected < 2:
            await got.requeue()
    await got.ack()
    await inbox.nothing()


@pytest.mark.parametrize("how", ["requeue", "crash"])
async def test_delivery_limit_dead_letters_after_limit_deliveries(env: Env, how: str) -> None:
    gateway = await env.delivery(["limited"], delivery_limit=3)
    await gateway.publish("limited", "doomed")
    counts = []
    consumer, inbox = gateway, Inbox()
    await consumer.consume(["limited"], inbox, prefetch=1)
    for _ in range(3):
        got = await inbox.next()
        counts.append(got.delivery_count)
        if how == "requeue":
            await got.requeue()
        else:  # the consumer dies holding it; the next one takes over
            await consumer.close()
            consumer, inbox = await env.delivery(["limited"], delivery_limit=3), Inbox()
            await consumer.consume(["limited"], inbox, prefetch=1)
    assert counts == [0, 1, 2]  # delivery_limit 3: exactly three deliveries...
    dead = await env.get(env.prefix + "limited.dead")
    await inbox.nothing(0.1)  # ...and no fourth: a dead-lettered message is delivered no more
    assert json.loads(dead.body)["id"] == "doomed"
    assert dead.headers["x-first-death-reason"] == "delivery_limit"
    assert await env.depth(env.prefix + "limited") == 0


async def test_unreadable_body_is_dead_lettered(env: Env) -> None:
    delivery = await env.delivery(["bad"])
    inbox = Inbox()
    await delivery.consume(["bad"], inbox, prefetch=1)
    await env.channel.default_exchange.publish(
        aio_pika.Message(b"not json", message_id="x"), routing_key=env.prefix + "bad"
    )
    dead = await env.get(env.prefix + "bad.dead")
    assert dead.body == b"not json"
    assert dead.headers["x-first-death-reason"] == "rejected"
    await inbox.nothing(0.1)


async def test_prefetch_is_per_queue(env: Env) -> None:
    delivery = await env.delivery(["slow", "fast"])
    inbox = Inbox()
    await delivery.consume(["slow", "fast"], inbox, prefetch=2)
    for i in range(5):
        await delivery.publish("slow", f"s-{i}")
    held = [await inbox.next(), await inbox.next()]
    await inbox.nothing()  # two unsettled on "slow": no third
    for i in range(3):
        await delivery.publish("fast", f"f-{i}")
    for _ in range(3):  # "fast" still flows (and prefetch 2 holds there too)
        got = await inbox.next()
        assert got.queue == "fast"
        await got.ack()
    await held[0].ack()
    got = await inbox.next()
    assert got.queue == "slow"
    await inbox.nothing()
    assert {held[1].message_id, got.message_id} <= {f"s-{i}" for i in range(5)}


async def test_stop_consuming_then_settle_in_flight(env: Env) -> None:
    delivery = await env.delivery(["stop"])
    inbox = Inbox()
    await delivery.consume(["stop"], inbox, prefetch=3)
    for i in range(3):
        await delivery.publish("stop", f"m-{i}")
    held = [await inbox.next() for _ in range(3)]
    await delivery.stop_consuming()
    await delivery.publish("stop", "late")
    await held[0].ack()
    await held[1].ack()
    await held[2].requeue()
    await inbox.nothing(1.0)
    await delivery.close()
    assert await env.depth(env.prefix + "stop") == 2
    later = await env.delivery(["stop"])
    inbox = Inbox()
    await later.consume(["stop"], inbox, prefetch=5)
    ids = {(await inbox.next()).message_id for _ in range(2)}
    assert ids == {"m-2", "late"}


async def test_close_returns_unsettled_deliveries(env: Env) -> None:
    first = await env.delivery(["ret"])
    inbox = Inbox()
    await first.consume(["ret"], inbox, prefetch=1)
    await first.publish("ret", "m")
    held = await inbox.next()
    await first.close()
    with pytest.raises(DeliveryUnavailable):
        await held.ack()
    second = await env.delivery(["ret"])
    inbox = Inbox()
    await second.consume(["ret"], inbox, prefetch=1)
    again = await inbox.next()
    assert (again.message_id, again.delivery_count) == ("m", 1)
    await again.ack()


async def test_closed_or_unopened_delivery_is_unavailable(env: Env) -> None:
    never = RabbitDelivery(env.url, prefix=env.prefix)
    with pytest.raises(DeliveryUnavailable):
        await never.publish("q", "x")
    delivery = await env.delivery(["q"])
    await delivery.ping()
    await delivery.close()
    with pytest.raises(DeliveryUnavailable):
        await delivery.publish("q", "x")
    with pytest.raises(DeliveryUnavailable):
        await delivery.ping()
    await delivery.close()  # idempotent


async def test_publish_to_undeclared_queue_is_unavailable(env: Env) -> None:
    delivery = await env.delivery(["known"])
    with pytest.raises(DeliveryUnavailable, match="does not exist"):
        await delivery.publish("unknown", "x")
    await delivery.publish("known", "still-works")


async def test_unreachable_broker_fails_open() -> None:
    delivery = RabbitDelivery("amqp://guest:guest@127.0.0.1:1/", publish_timeout=2)
    with pytest.raises(DeliveryUnavailable):
        await delivery.open(["q"])
    await delivery.close()


async def test_connections_are_named(env: Env) -> None:
    delivery = await env.delivery(["named"], name=f"conveyor-{env.prefix}")
    await delivery.consume(["named"], Inbox(), prefetch=1)
    listed = await env.rabbitmq.actl("list_connections", "-q", "client_properties")
    assert delivery.connection_name("publish") in listed
    assert delivery.connection_name("consume") in listed
    consumers = await env.rabbitmq.actl("list_consumers", "-q", "consumer_tag")
    assert f"{delivery.connection_name('consume')}/named" in consumers


async def _eventually_publish(delivery: RabbitDelivery, message_id: str, within: float) -> None:
    async def published() -> bool:
        try:
            await delivery.publish("rc", message_id)
        except DeliveryUnavailable:
            return False
        return True

    await wait_until(published, "a publish to succeed again", within, interval=0.25)


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("rabbitmq", ["private"], indirect=True)  # a broker it may stop
async def test_reconnects_after_broker_restart(env: Env) -> None:
    broker = env.rabbitmq
    assert isinstance(broker, PrivateRabbit)
    gateway = await env.delivery(["rc"])
    consumer = await env.delivery(["rc"])
    inbox = Inbox()
    await consumer.consume(["rc"], inbox, prefetch=2)
    await gateway.publish("rc", "before")
    await (await inbox.next()).ack()
    await gateway.publish("rc", "in-flight")
    held = await inbox.next()
    leaving = await env.delivery(["rc"])
    await leaving.consume(["rc"], Inbox(), prefetch=1)
    try:
        await broker.stop_app()
        await asyncio.sleep(0.5)  # for the clients to see their connections close
        started = time.monotonic()
        with pytest.raises(DeliveryUnavailable):
            await gateway.publish("rc", "during")
        with pytest.raises(DeliveryUnavailable):
            await gateway.ping()
        with pytest.raises(DeliveryUnavailable):
            await held.ack()
        await leaving.stop_consuming()
        await leaving.close()
        assert time.monotonic() - started < 1.0, "while disconnected nothing may wait"
    finally:
        await broker.start_app()
        await env.reconnect_admin()
    await _eventually_publish(gateway, "after", within=15)
    await gateway.ping()
    seen: dict[str, int] = {}

    async def both_redelivered() -> bool:
        with contextlib.suppress(TimeoutError):
            got = await inbox.next(wait=0.5)
            seen[got.message_id] = got.delivery_count
            await got.ack()
        return {"after", "in-flight"} <= seen.keys()

    await wait_until(both_redelivered, "'after' and 'in-flight' to arrive", 15, interval=0)
    assert seen["in-flight"] >= 1  # its channel died unsettled: a return, then redelivered
    await inbox.nothing()


async def test_a_completion_event_nobody_listens_to_is_dropped_quietly(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    # No gateway is subscribed (it is down, or none runs): the fanout exchange routes the event
    # nowhere. It is best effort, so it must not come back as a returned message, which the
    # AMQP library logs at ERROR ("Unhandled message") once per completed message.
    delivery = await env.delivery(["orders"])
    with caplog.at_level(logging.DEBUG):
        for n in range(3):
            await delivery.publish_event("orders", f"m-{n}")
        await asyncio.sleep(0.5)  # a returned message would be back within a round trip
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_events_published_together_share_a_few_messages_and_all_arrive(env: Env) -> None:
    # Batching (shared.adapters.rabbitmq.event_batch): 500 events in one loop turn reach a
    # subscriber in another process-like delivery in full, as far fewer AMQP messages than events.
    publisher = await env.delivery(["orders"])
    gateway = await env.delivery(["orders"])
    finals: list[str] = []
    changes: list[str] = []
    await gateway.subscribe_events(lambda _q, message_id: finals.append(message_id))
    await gateway.subscribe_changes(lambda _q, message_id: changes.append(message_id))
    raw = await env.channel.declare_queue(exclusive=True)  # counts the messages on the wire
    await raw.bind(env.prefix + "events")
    for n in range(500):
        await publisher.publish_event("orders", f"m-{n}", final=n % 2 == 0)

    def all_arrived() -> bool:
        return len(finals) + len(changes) == 500

    await wait_until(all_arrived, "500 events", 15, interval=0.05)
    assert finals == [f"m-{n}" for n in range(0, 500, 2)]  # in order, each once
    assert changes == [f"m-{n}" for n in range(1, 500, 2)]
    wire = (await env.channel.declare_queue(raw.name, passive=True)).declaration_result
    assert wire.message_count is not None and 1 <= wire.message_count < 50


async def test_acks_of_one_turn_settle_exactly_the_decided_deliveries(env: Env) -> None:
    gateway = await env.delivery(["acks"])
    consumer = await env.delivery(["acks"])
    inbox = Inbox()
    await consumer.consume(["acks"], inbox, prefetch=10)
    for i in range(6):
        await gateway.publish("acks", f"m-{i}")
    got = {d.message_id: d for d in [await inbox.next() for _ in range(6)]}
    # In one turn: acks around m-2 (held, undecided) and m-3 (requeued): one multiple ack
    # may settle m-0 and m-1 only; m-4 and m-5 are acked one by one.
    await asyncio.gather(
        got["m-0"].ack(), got["m-1"].ack(), got["m-3"].requeue(), got["m-4"].ack(), got["m-5"].ack()
    )
    again = await inbox.next()
    assert (again.message_id, again.delivery_count) == ("m-3", 1)
    await again.ack()
    await inbox.nothing()
    await consumer.close()  # m-2, never decided, goes back (and nothing else)
    second = await env.delivery(["acks"])
    inbox = Inbox()
    await second.consume(["acks"], inbox, prefetch=10)
    held = await inbox.next()
    assert (held.message_id, held.delivery_count) == ("m-2", 1)
    await held.ack()
    await inbox.nothing()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "rabbitmq", ["private"], indirect=True
)  # a node whose connections it may close
async def test_a_connection_lost_between_batches_of_acks_loses_nothing(env: Env) -> None:
    gateway = await env.delivery(["lost"])
    consumer = await env.delivery(["lost"])
    inbox = Inbox()
    await consumer.consume(["lost"], inbox, prefetch=10)
    ids = [f"m-{i}" for i in range(8)]
    for message_id in ids:
        await gateway.publish("lost", message_id)
    got = [await inbox.next() for _ in ids]
    await asyncio.gather(*(d.ack() for d in got[:4]))  # one batch: a multiple ack
    name = env.prefix + "lost"

    async def unacked(n: int) -> bool:
        row = await env.rabbitmq.queue_info(name, "messages_unacknowledged")
        return row is not None and row["messages_unacknowledged"] == n

    await wait_until(lambda: unacked(4), "the first batch to be acked", 10)
    # The consumer's connection lost (every connection of this private node, in fact).
    await env.rabbitmq.actl("close_all_connections", "test: connection lost")
    await env.reconnect_admin()
    # The second batch: sent on a dying connection (lost) or refused; either way not settled.
    outcomes = await asyncio.gather(*(d.ack() for d in got[4:]), return_exceptions=True)
    assert all(o is None or isinstance(o, DeliveryUnavailable) for o in outcomes), outcomes
    seen: dict[str, int] = {}

    async def second_batch_redelivered() -> bool:
        with contextlib.suppress(TimeoutError):
            again = await inbox.next(wait=0.5)
            seen[again.message_id] = again.delivery_count
            await again.ack()
        return set(ids[4:]) <= seen.keys()

    await wait_until(second_batch_redelivered, "the unacked batch to come back", 30, interval=0)
    assert set(seen) == set(ids[4:]) and set(seen.values()) == {1}  # the acked ones never
    await wait_until(lambda: unacked(0), "every delivery to be settled", 10)
    await inbox.nothing()
