"""``WorkQueue.publish_later`` on both adapters: the message comes back later, not at once,
and nothing holds it meanwhile (RabbitMQ: it sits in the delay tier queue)."""

from __future__ import annotations

import asyncio

from shared.adapters.inprocess.queues import InProcessDelivery
from shared.adapters.rabbitmq.broker import RabbitDelivery
from shared.adapters.rabbitmq.delays import tier_queue
from shared.ports import Delivered
from tests.support.brokers import RabbitNode
from tests.support.services import delete_rabbit_queues, queue_prefix


class Inbox:
    def __init__(self) -> None:
        self.items: asyncio.Queue[Delivered] = asyncio.Queue()

    async def __call__(self, delivery: Delivered) -> None:
        self.items.put_nowait(delivery)


async def test_inprocess_publish_later() -> None:
    delivery, inbox = InProcessDelivery(), Inbox()
    await delivery.open(["q"])
    await delivery.consume(["q"], inbox, 4)
    await delivery.publish_later("q", "m1", 0.5)
    await asyncio.sleep(0.2)
    assert inbox.items.empty()
    got = await asyncio.wait_for(inbox.items.get(), 5)
    assert (got.queue, got.message_id, got.delivery_count) == ("q", "m1", 0)
    await got.ack()
    await delivery.publish_later("q", "m2", 0.2)
    await delivery.close()  # a pending timer is cancelled with the delivery
    await asyncio.sleep(0.4)
    assert inbox.items.empty()


async def test_rabbitmq_publish_later_waits_in_the_tier_queue(rabbitmq: RabbitNode) -> None:
    prefix = queue_prefix()
    delivery, inbox = RabbitDelivery(rabbitmq.url, prefix=prefix), Inbox()
    try:
        await delivery.open(["w"])
        await delivery.consume(["w"], inbox, 4)
        await delivery.publish_later("w", "m1", 1.0)
        assert (await rabbitmq.counts(tier_queue(prefix + "w", 1000))).messages == 1
        await asyncio.sleep(0.3)
        assert inbox.items.empty()
        got = await asyncio.wait_for(inbox.items.get(), 10)
        assert (got.queue, got.message_id, got.delivery_count) == ("w", "m1", 0)
        await got.ack()
    finally:
        try:
            await delivery.close()
        finally:  # its queues, retry tiers and events exchange
            await delete_rabbit_queues(rabbitmq.url, prefix, ["w"])
