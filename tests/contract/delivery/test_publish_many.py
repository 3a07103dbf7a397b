"""``WorkQueue.publish_many`` on both adapters: one window, per-message failures reported."""

from __future__ import annotations

import asyncio
import uuid

from shared.adapters.inprocess.queues import InProcessDelivery
from shared.adapters.rabbitmq.broker import RabbitDelivery
from shared.ports import Delivered
from tests.support.brokers import RabbitNode
from tests.support.services import delete_rabbit_queues, queue_prefix


async def test_in_process_publishes_all_or_reports_all_failed() -> None:
    delivery = InProcessDelivery()
    await delivery.open(["q"])
    assert await delivery.publish_many("q", ["a", "b", "c"]) == set()
    assert delivery.depth("q") == 3
    await delivery.close()
    assert await delivery.publish_many("q", ["d", "e"]) == {"d", "e"}


async def test_rabbitmq_confirms_every_message_and_reports_returns(rabbitmq: RabbitNode) -> None:
    url = rabbitmq.url
    prefix = queue_prefix()
    delivery = RabbitDelivery(url, prefix=prefix)
    ids = [str(uuid.uuid4()) for _ in range(25)]
    got: asyncio.Queue[str] = asyncio.Queue()

    async def collect(item: Delivered) -> None:
        got.put_nowait(item.message_id)
        await item.ack()

    try:
        await delivery.open(["q"])
        assert await delivery.publish_many("q", ids) == set()
        # A queue nobody declared returns every message (mandatory): all reported failed.
        assert await delivery.publish_many("undeclared", ids[:3]) == set(ids[:3])
        await delivery.consume(["q"], collect, prefetch=50)
        received = [await asyncio.wait_for(got.get(), 10) for _ in ids]
        assert sorted(received) == sorted(ids)
    finally:
        await delivery.close()
        await delete_rabbit_queues(url, prefix, ["q"])
