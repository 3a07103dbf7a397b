"""Cancel signals (``shared.ports.CancelSignals``, the control channel) on every adapter: a
cancel reaches every subscriber of every process, apart from the completion events, and
publishing never raises. On RabbitMQ the channel is a fanout exchange of its own."""

from __future__ import annotations

import asyncio
import time

import aio_pika
import aiormq
import pytest

from shared.adapters.rabbitmq.broker import RabbitDelivery
from tests.support.deliveries import QUIET, Harness, RabbitHarness

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
    name = delivery.control_exchange
    assert name == rabbit.prefix + "control" and name != delivery.events_exchange
    connection = await aio_pika.connect(rabbit.url, timeout=10)
    async with connection:
        # The broker's own word on its type (the management plugin may be off): declaring
        # the same name as another type is refused (406, inequivalent arg 'type'), and the
        # refusal closes the channel, so each declare gets a throwaway one.
        for other in (aio_pika.ExchangeType.DIRECT, aio_pika.ExchangeType.TOPIC):
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed, match="type"):
                await channel.declare_exchange(name, other, durable=False)
        channel = await connection.channel()  # as a fanout it is the same exchange again
        await channel.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=False)
        await channel.close()
