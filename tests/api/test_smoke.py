"""The seed's example end to end in each mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.brokers import RabbitNode
from tests.support.paths import QUEUES_DIR
from tests.support.services import delete_rabbit_queues, queue_prefix


async def test_push_and_complete(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {"hello": "there"}, token)
    record = await api.wait_final("echo", message_id, token)
    assert record["status"] == "COMPLETE"
    assert record["result"]["echo"] == {"hello": "there"}
    assert record["attempts"] == 1


async def test_one_slow_queue_does_not_starve_another(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    # One message at a time per queue: a long handler on `slow` must not hold up `echo`.
    api = api_for(await start_conveyor(concurrency=1))
    token = api.keys.token(["tester"])
    slow_id = await api.push("slow", {"seconds": 30}, token)
    echo_id = await api.push("echo", {"n": 1}, token)
    assert (await api.wait_final("echo", echo_id, token, within=10))["status"] == "COMPLETE"
    slow = await (await api.get(f"/slow/{slow_id}", token)).json()
    assert slow["status"] == "INPROGRESS"


@pytest.mark.parametrize("mode", ["embedded"], indirect=True)  # then overridden: one is enough
async def test_rabbitmq_delivery_with_the_sqlite_store(
    rabbitmq: RabbitNode, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    # Store and broker are chosen independently: RabbitMQ with SQLite on one machine.
    prefix = queue_prefix()
    api = api_for(await start_conveyor(broker=rabbitmq.url, queue_prefix=prefix))
    token = api.keys.token(["tester"])
    try:
        message_id = await api.push("echo", {"n": 2}, token)
        record = await api.wait_final("echo", message_id, token)
        assert record["status"] == "COMPLETE"
    finally:
        names = [p.name.removesuffix(".queue.json") for p in QUEUES_DIR.glob("*.queue.json")]
        await delete_rabbit_queues(rabbitmq.url, prefix, names)
