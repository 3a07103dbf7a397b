"""Never stranded: a queued message whose delivery is gone completes anyway (real processes).

Each test pushes through a real gateway with no consumer running, takes the message's
delivery away from RabbitMQ (a purge, a foreign consumer that acks it, a broker reset without
its data), then starts a consumer with ``--redeliver-after-seconds 2``: its recovery sweep
re-delivers the message (``consumer.recovery`` step (e)). ``--republish-after-seconds`` stays
at its default (60 s), longer than any wait here, so only the re-delivery can complete it.
The last test shows the bound: a backlog the broker holds is not republished.

The store is one shared SQLite file, which the test reads directly to wait for the gateway's
publish marks (``shared.service.published``) before taking the delivery away.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import aiohttp
import pytest

from consumer.recovery import redeliver_lost
from shared.adapters.rabbitmq.broker import RabbitDelivery
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import utcnow
from shared.service.dispatch import Dispatcher
from tests.support.api_client import Api
from tests.support.brokers import PrivateRabbit, RabbitNode
from tests.support.cluster import Cluster, cluster_of
from tests.support.services import queue_prefix
from tests.support.tokens import Keys
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

REDELIVER = ["--redeliver-after-seconds", "2"]


@pytest.fixture
def cluster(tmp_path: Path, queues_dir: Path, rabbitmq: RabbitNode) -> Iterator[Cluster]:
    prefix = queue_prefix("ptest")
    flags = [
        "--broker", rabbitmq.url, "--queue-prefix", prefix,
        "--store", f"sqlite:///{tmp_path / 'shared.db'}", "--handlers", str(queues_dir),
        "--lease-seconds", "3",
    ]  # fmt: skip
    with cluster_of(tmp_path, flags, prefix, rabbitmq, queues_dir) as made:
        yield made


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def published_count(cluster: Cluster) -> int:
    """Records of ``echo`` the gateway marked published (read from the SQLite file)."""
    with sqlite3.connect(cluster.tmp / "shared.db") as db:
        row = db.execute(
            "SELECT COUNT(*) FROM messages WHERE queue = 'echo' AND published = 1"
        ).fetchone()
    return int(row[0])


async def push_marked(cluster: Cluster, api: Api, token: str, count: int = 1) -> list[str]:
    """Push ``count`` messages to ``echo``; their ids, once all are marked published."""
    if count == 1:
        ids = [await api.push("echo", {"n": 0}, token)]
    else:
        resp = await api.post("echo/batch", [{"n": n} for n in range(count)], token)
        assert resp.status == 207, await resp.text()
        ids = [item["id"] for item in (await resp.json())["items"]]
    await wait_until(lambda: published_count(cluster) == count, "the publish marks")
    return ids


async def ready(rabbitmq: RabbitNode, queue: str) -> int:
    return (await rabbitmq.counts(queue)).messages


async def completes(api: Api, message_id: str, token: str) -> None:
    record = await api.wait_final("echo", message_id, token, within=30)
    assert record["status"] == "COMPLETE", record
    assert record["attempts"] == 1, record
    assert record["delivery"] is None


async def test_a_purged_queue_does_not_strand_its_messages(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    _, url = cluster.gateway()
    api, token = Api(session, url, keys), keys.token(["tester"])
    [mid] = await push_marked(cluster, api, token)
    assert (await (await api.get(f"/echo/{mid}", token)).json())["delivery"] == "queued"
    connection = await aio_pika.connect(cluster.rabbitmq.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(cluster.prefix + "echo", passive=True)
        assert await queue.purge() is not None
    assert await ready(cluster.rabbitmq, cluster.prefix + "echo") == 0
    cluster.consumer(*REDELIVER)
    await completes(api, mid, token)


async def test_a_foreign_consumer_that_acked_the_delivery_does_not_strand_it(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    _, url = cluster.gateway()
    api, token = Api(session, url, keys), keys.token(["tester"])
    [mid] = await push_marked(cluster, api, token)
    connection = await aio_pika.connect(cluster.rabbitmq.url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(cluster.prefix + "echo", passive=True)
        taken = await queue.get(timeout=5)
        assert taken is not None and taken.message_id == mid
        await taken.ack()
    cluster.consumer(*REDELIVER)
    await completes(api, mid, token)


@pytest.mark.parametrize("rabbitmq", ["private"], indirect=True)  # a broker it may reset
async def test_a_broker_restarted_without_its_data_does_not_strand_messages(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    broker = cluster.rabbitmq
    assert isinstance(broker, PrivateRabbit)
    _, url = cluster.gateway()
    api, token = Api(session, url, keys), keys.token(["tester"])
    [mid] = await push_marked(cluster, api, token)
    await broker.stop_app()
    try:
        await broker.actl("reset")  # its queues, messages and users gone (guest comes back)
    finally:
        await broker.start_app()
    cluster.consumer(*REDELIVER)  # declares the queue again: empty
    await completes(api, mid, token)


async def test_a_backlog_the_broker_holds_is_not_republished(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    """The sweep's step (e), run from the test against the gateway's backlog: nothing while
    the broker holds every queued message; after a purge, each exactly once."""
    _, url = cluster.gateway()
    api, token = Api(session, url, keys), keys.token(["tester"])
    count = 100  # one batch (the most a batch may hold)
    await push_marked(cluster, api, token, count)
    name = cluster.prefix + "echo"
    assert await ready(cluster.rabbitmq, name) == count
    store = SqliteStore(cluster.tmp / "shared.db", shared=True)
    work = RabbitDelivery(cluster.rabbitmq.url, prefix=cluster.prefix, publish_timeout=5)
    await store.open()
    try:
        await work.open(["echo"])
        dispatch = Dispatcher(work, None)
        # Every record is idle (a cutoff of now): only the broker's count holds them back.
        assert await work.ready_count("echo") == count
        assert await redeliver_lost(store, dispatch, "echo", utcnow()) == 0
        assert await ready(cluster.rabbitmq, name) == count  # not 2 x count
        # Half the backlog lost: exactly that many re-delivered, and the next pass adds none.
        connection = await aio_pika.connect(cluster.rabbitmq.url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(name, passive=True)
            for _ in range(count // 2):
                taken = await queue.get(timeout=5)
                assert taken is not None
                await taken.ack()
        assert await ready(cluster.rabbitmq, name) == count // 2
        assert await redeliver_lost(store, dispatch, "echo", utcnow()) == count // 2
        assert await ready(cluster.rabbitmq, name) == count
        assert await redeliver_lost(store, dispatch, "echo", utcnow()) == 0
        assert await ready(cluster.rabbitmq, name) == count
    finally:
        await work.close()
        await store.close()
