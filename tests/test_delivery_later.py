"""``Delivery.publish_later`` on both adapters: the message comes back later, not at once,
and nothing holds it meanwhile (RabbitMQ: it sits in the delay tier queue)."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika

from shared.delivery.delays import TIERS_MS, tier_queue
from shared.delivery.inprocess import InProcessDelivery
from shared.delivery.rabbitmq import RabbitDelivery
from shared.ports import Delivered
from tests.services import require_rabbitmq


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


async def test_rabbitmq_publish_later_waits_in_the_tier_queue() -> None:
    url = require_rabbitmq()
    prefix = f"test.{uuid.uuid4().hex[:10]}."
    main = prefix + "w"
    delivery, inbox = RabbitDelivery(url, prefix=prefix), Inbox()
    admin = await aio_pika.connect(url)
    try:
        await delivery.open(["w"])
        await delivery.consume(["w"], inbox, 4)
        await delivery.publish_later("w", "m1", 1.0)
        channel = await admin.channel()
        tier = await channel.declare_queue(tier_queue(main, 1000), passive=True)
        assert tier.declaration_result.message_count == 1
        await asyncio.sleep(0.3)
        assert inbox.items.empty()
        got = await asyncio.wait_for(inbox.items.get(), 10)
        assert (got.queue, got.message_id, got.delivery_count) == ("w", "m1", 0)
        await got.ack()
    finally:
        await delivery.close()
        channel = await admin.channel()
        for name in (main, main + ".dead", *(tier_queue(main, t) for t in TIERS_MS)):
            await channel.queue_delete(name)
        await admin.close()
