"""Distributed mode with real processes: a gateway and consumer daemons on RabbitMQ and the
MongoDB wire server, killed with real signals.

Every test uses its own queue prefix and database. What an operator sees of RabbitMQ is read
with passive declares and ``rabbitmqctl list_*``; the outage test stops and starts the
session's private RabbitMQ node, never the shared one.
"""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared.domain.message import utcnow
from tests.support.api_client import Api
from tests.support.brokers import PrivateRabbit, RabbitNode
from tests.support.cluster import Cluster
from tests.support.handler_files import written
from tests.support.tokens import Keys
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def connection_names(rabbitmq: RabbitNode) -> set[str]:
    """The ``connection_name`` of every client connected to ``rabbitmq``."""
    rows = await rabbitmq.listed("connections", "client_properties")
    return {
        str(value)
        for row in rows
        for key, _, value in row["client_properties"]
        if key == "connection_name"
    }


async def test_connections_name_the_process_role_and_the_prefix(cluster: Cluster) -> None:
    """In the management UI a gateway's and a consumer's connections say which they are and
    which deployment (queue prefix) they belong to."""
    gateway, _ = cluster.gateway()
    consumer = cluster.consumer()
    host = socket.gethostname()
    names = await connection_names(cluster.rabbitmq)
    for role, proc in (("gateway", gateway), ("consumer", consumer)):
        for kind in ("publish", "consume"):
            name = f"conveyor-{role}-{kind}[{cluster.prefix}]@{host}:{proc.pid}"
            assert name in names, (name, sorted(n for n in names if cluster.prefix in n))


async def holds_no_message(rabbitmq: RabbitNode, queue: str) -> bool:
    """No message on ``queue``, ready or delivered and not yet acknowledged."""
    row = await rabbitmq.queue_info(queue, "messages")
    return row is not None and row["messages"] == 0


def runs(log: Path) -> list[tuple[str, int, int]]:
    """(message id, pid, attempt) per handler run recorded by the runlog queue."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        mid, pid, attempt = line.split()
        out.append((mid, int(pid), int(attempt)))
    return out


async def test_three_consumers_share_300_messages_exactly_once(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    _, url = cluster.gateway()
    # The MongoDB stand-in answers ~100 operations/s, fewer on a busy machine: 300 messages
    # at once queue up seconds of claims and finishes, longer than the fixture's 3 s lease,
    # and a lease that cannot be renewed in time is (rightly) given up. This test is about
    # sharing work exactly once, so its consumers hold leases long enough for that backlog.
    consumers = [cluster.consumer("--lease-seconds", "30") for _ in range(3)]
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    log = cluster.tmp / "runs.log"
    sem = asyncio.Semaphore(20)

    async def push(i: int) -> str:
        async with sem:
            return await api.push("runlog", {"log": str(log), "seconds": 0.02}, token)

    ids = await asyncio.gather(*(push(i) for i in range(300)))
    for mid in ids:
        record = await api.wait_final("runlog", mid, token, within=120)
        assert record["status"] == "COMPLETE", record
    per_message = collections.Counter(mid for mid, _, _ in runs(log))
    assert set(per_message) == set(ids)
    assert set(per_message.values()) == {1}, "some message ran more than once"
    pids = {pid for _, pid, _ in runs(log)}
    assert pids == {c.pid for c in consumers}, "every consumer should have done part"

    main = cluster.prefix + "runlog"
    assert (await cluster.rabbitmq.counts(main)).consumers == 3
    assert await cluster.rabbitmq.queue_info(main, "type") == {"name": main, "type": "quorum"}
    assert (await cluster.rabbitmq.counts(main + ".dead")).messages == 0
    names = await connection_names(cluster.rabbitmq)
    for proc in consumers:
        assert any(str(proc.pid) in name for name in names), names


async def test_consumer_killed_mid_handler_is_rerun_elsewhere(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    _, url = cluster.gateway()
    first = cluster.consumer()
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    log = cluster.tmp / "runs.log"
    mid = await api.push("runlog", {"log": str(log), "seconds": 30}, token)
    await wait_until(lambda: runs(log), "the handler to start")
    assert runs(log)[0][1] == first.pid
    second = cluster.consumer()
    first.kill()
    record = await api.wait_final("runlog", mid, token, within=90)
    assert record["status"] == "COMPLETE"
    assert record["attempts"] == 2
    assert [(pid, attempt) for _, pid, attempt in runs(log)] == [(first.pid, 1), (second.pid, 2)]


async def test_poison_message_is_dead_lettered_and_marked_error(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    _, url = cluster.gateway()
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    mid = await api.push("poison", {}, token)
    # Like an orchestrator, restart the consumer whenever the poison message kills it.
    consumer = [cluster.consumer("--queues", "poison")]

    async def marked_error() -> dict[str, Any] | None:
        record: dict[str, Any] = await (await api.get(f"/poison/{mid}", token)).json()
        if record["status"] == "ERROR":
            return record
        if not consumer[0].alive():
            consumer[0] = cluster.consumer("--queues", "poison")
        return None

    record = await wait_until(marked_error, "the poison message to be ERROR", 90, interval=0.3)
    assert record["error"]["type"] == "DeliveryLimitExceeded"
    dead = cluster.prefix + "poison.dead"

    async def dead_lettered() -> bool:
        return (await cluster.rabbitmq.counts(dead)).messages == 1

    await wait_until(dead_lettered, "the dead-letter queue to hold the message")
    # A dead-lettered message is redrivable like any ERROR message (admin roles only).
    writer = await api.post(f"poison/{mid}/retry", None, token)
    assert writer.status == 403
    admin = keys.token(["system_admin"])
    redriven = await api.post(f"poison/{mid}/retry", None, admin)
    assert redriven.status == 200, await redriven.text()
    assert (await redriven.json())["status"] == "PENDING"


@pytest.mark.parametrize("rabbitmq", ["private"], indirect=True)  # a broker it may stop
async def test_rabbitmq_outage_gives_503_then_everything_accepted_completes(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    broker = cluster.rabbitmq
    assert isinstance(broker, PrivateRabbit)
    _, url = cluster.gateway()
    cluster.consumer()
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    log = cluster.tmp / "runs.log"
    accepted: list[str] = []
    statuses: collections.Counter[int] = collections.Counter()
    stop = asyncio.Event()

    async def client() -> None:
        while not stop.is_set():
            try:
                resp = await api.post("runlog", {"log": str(log)}, token)
            except aiohttp.ClientError:
                statuses[0] += 1
            else:
                statuses[resp.status] += 1
                if resp.status == 201:
                    accepted.append((await resp.json())["id"])
                else:
                    assert resp.status == 503, await resp.text()
            await asyncio.sleep(0.02)

    pusher = asyncio.create_task(client())
    try:
        await wait_until(lambda: len(accepted) >= 5, "pushes accepted before the outage")
        async with broker.outage():
            await wait_until(lambda: statuses[503], "503s while RabbitMQ is down", 15)
        before = len(accepted)
        await wait_until(lambda: len(accepted) > before + 5, "the gateway to accept again", 15)
    finally:
        stop.set()
        await pusher
    for mid in accepted:
        record = await api.wait_final("runlog", mid, token, within=60)
        assert record["status"] == "COMPLETE", record
    assert collections.Counter(m for m, _, _ in runs(log)).keys() == set(accepted)


async def test_message_recorded_but_never_published_is_swept(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession, mongo_url: str
) -> None:
    # The state a gateway killed between "record" and "publish" leaves behind: a PENDING
    # record that never reached RabbitMQ. Written with the store adapter itself.
    from shared.adapters.mongo.collection import MongoStore
    from shared.domain.message import MessageRecord

    database = cluster.flags[cluster.flags.index("--mongo-database") + 1]
    store = MongoStore(mongo_url, database, "messages")
    await store.open()
    log = cluster.tmp / "runs.log"
    record = MessageRecord.new("runlog", {"log": str(log)})
    await store.insert(record)
    await store.close()
    _, url = cluster.gateway()
    cluster.consumer()
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    final = await api.wait_final("runlog", record.id, token, within=30)
    assert final["status"] == "COMPLETE"
    assert [m for m, _, _ in runs(log)] == [record.id]


async def test_duplicate_delivery_waits_for_a_live_lease_instead_of_running_twice(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    # The handler outlives several leases (3 s); its consumer keeps renewing. A second
    # delivery of the same message (as after a network blip) reaches another consumer,
    # which must wait, not run it concurrently, and then ack it as a duplicate.
    from shared.adapters.rabbitmq.broker import RabbitDelivery

    _, url = cluster.gateway()
    cluster.consumer()
    cluster.consumer()
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    log = cluster.tmp / "runs.log"
    mid = await api.push("runlog", {"log": str(log), "seconds": 8}, token)
    await wait_until(lambda: runs(log), "the handler to start")
    duplicate = RabbitDelivery(cluster.rabbitmq.url, prefix=cluster.prefix, delivery_limit=2)
    await duplicate.open(["runlog"])
    await duplicate.publish("runlog", mid)
    await duplicate.close()
    record = await api.wait_final("runlog", mid, token, within=60)
    assert record["status"] == "COMPLETE"
    assert record["attempts"] == 1
    # Once the duplicate is acknowledged its consumer is done with it: had it (wrongly) run
    # the handler, it would have logged a second run before acking.
    main = cluster.prefix + "runlog"
    await wait_until(
        lambda: holds_no_message(cluster.rabbitmq, main), "the duplicate delivery to be acked"
    )
    assert len(runs(log)) == 1


async def test_consumer_sigterm_requeues_unfinished_work_and_exits_0(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    _, url = cluster.gateway()
    first = cluster.consumer("--grace-seconds", "1")
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    log = cluster.tmp / "runs.log"
    quick = await api.push("runlog", {"log": str(log), "seconds": 0}, token)
    assert (await api.wait_final("runlog", quick, token))["status"] == "COMPLETE"
    slow = await api.push("runlog", {"log": str(log), "seconds": 30}, token)
    await wait_until(lambda: len(runs(log)) == 2, "the slow handler to start")
    assert await asyncio.to_thread(first.stop) == 0
    record = await (await api.get(f"/runlog/{slow}", token)).json()
    assert record["status"] == "PENDING", record
    second = cluster.consumer()
    final = await api.wait_final("runlog", slow, token, within=60)
    assert final["status"] == "COMPLETE"
    assert final["attempts"] == 2
    assert runs(log)[-1][1:] == (second.pid, 2)
    assert "shutting down consumer" in first.text()


async def test_a_running_handler_is_cancelled_from_another_process(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession, queues_dir: Path
) -> None:
    """The gateway that takes the cancel is not the consumer running the message: the
    control exchange carries it. The consumer's lease is long (renewals every 15 s), so only
    the signal can stop the handler within the 2 s allowed."""
    from tests.support.handler_files import exists
    from tests.support.queues import add_queue

    add_queue(queues_dir, "cancellable", handler="cancellable", roles={"roles": ["tester"]})
    _, url = cluster.gateway()
    cluster.consumer("--lease-seconds", "60")
    api = Api(session, url, keys)
    token = keys.token(["tester"])
    marker, cleanup = cluster.tmp / "started", cluster.tmp / "cleanup"
    message_id = await api.push(
        "cancellable", {"marker": str(marker), "cleanup": str(cleanup)}, token
    )
    await wait_until(lambda: exists(marker), "the handler to start in the consumer", 20)
    resp = await session.post(f"{url}/cancellable/{message_id}/cancel", headers=api.auth(token))
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["cancel_requested"] is True

    async def cancelled() -> bool:
        record = await (await api.get(f"/cancellable/{message_id}", token)).json()
        return bool(record["status"] == "CANCELLED")

    await wait_until(cancelled, "the record to be CANCELLED", 2.0)
    await wait_until(lambda: written(cleanup), "the handler's finally block", 2.0)
    assert cleanup.read_text() == "True\n"
    assert await holds_no_message(cluster.rabbitmq, f"{cluster.prefix}cancellable")

    # A delayed message cancelled through this gateway never runs in that consumer.
    marker.unlink()
    later = await api.post(
        "cancellable",
        {"marker": str(marker), "cleanup": str(cleanup)},
        token,
        params={"delay": "1"},
    )
    later_id = (await later.json())["id"]
    resp = await session.post(f"{url}/cancellable/{later_id}/cancel", headers=api.auth(token))
    assert resp.status == 200 and (await resp.json())["status"] == "CANCELLED"
    control = await api.push("cancellable", {"marker": str(marker), "cleanup": "/dev/null"}, token)
    await wait_until(lambda: written(marker), "the control message to start", 20)
    assert marker.read_text() == f"{control}\n"  # the cancelled one never ran


async def test_a_consumers_heartbeat_is_listed_live_then_gone_once_it_is_killed(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    """``GET /workers`` from the store's heartbeats (no management API): a real
    ``conveyor consumer`` is live, holds the message it runs (the record's lease owner), and
    goes gone once killed, leaving the message INPROGRESS under a lapsing lease (stalled)."""
    _, url = cluster.gateway("--worker-gone-seconds", "1")
    consumer = cluster.consumer("--worker-heartbeat-seconds", "0.2")
    api = Api(session, url, keys)
    reader, tester = keys.token(["system_reader"]), keys.token(["tester"])
    log = cluster.tmp / "runs.log"
    mid = await api.push("runlog", {"log": str(log), "seconds": 60}, tester)
    await wait_until(lambda: runs(log), "the handler to start")

    async def worker(wanted: str, in_flight: int) -> dict[str, Any] | None:
        answer = await api.get("/workers", reader)
        assert answer.status == 200, await answer.text()
        for seen in (await answer.json())["workers"]:
            if seen["pid"] == consumer.pid and seen["state"] == wanted:
                return seen if seen["in_flight"] == in_flight else None
        return None

    live = await wait_until(lambda: worker("live", 1), "the consumer live, running one")
    assert live["host"] == socket.gethostname()
    assert "runlog" in live["queues"]
    record = await (await api.get(f"/runlog/{mid}", tester)).json()
    assert record["lease"]["owner"] == live["id"]

    consumer.kill()
    await wait_until(lambda: worker("gone", 1), "the killed consumer to be gone", within=30)

    async def stalled() -> dict[str, Any] | None:
        record = await (await api.get(f"/runlog/{mid}", tester)).json()
        lease = record["lease"]
        lapsed = lease is not None and datetime.fromisoformat(lease["until"]) < utcnow()
        return record if lapsed else None

    held = await wait_until(stalled, "the dead worker's lease to lapse")
    assert (held["status"], held["lease"]["owner"]) == ("INPROGRESS", live["id"])
