"""One queue prefix per store: two deployments on one broker cannot eat each other's messages.

Real ``conveyor`` processes on the shared RabbitMQ, each test under a queue prefix of its own:

- a consumer whose store is not the one the prefix is bound to (the gateway's) refuses to
  start, in one line naming ``--queue-prefix``, exit 3, and declares nothing else;
- one store from two processes (a gateway and a consumer on one SQLite file; on one MongoDB
  database) starts and runs a message;
- the way through: ``conveyor release-prefix`` deletes the marker, then the new store starts;
- a delivery whose record this store does not have (published from outside) is acked with a
  WARNING naming queue and id, and counted in ``conveyor_deliveries_without_record_total``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import aiohttp
import pytest

from shared.adapters.rabbitmq.identity import marker_queue
from tests.support.brokers import RabbitNode
from tests.support.metrics import parse, value
from tests.support.processes import Proc, clean_env, conveyor, http_args
from tests.support.queues import add_queue
from tests.support.services import delete_rabbit_queues, queue_prefix
from tests.support.sockets import free_port
from tests.support.tokens import HS_SECRET, Keys
from tests.support.waiting import wait_until, wait_until_sync

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


class Deployment:
    """Gateways and consumers on the shared broker under one prefix, each on a store given."""

    def __init__(self, tmp: Path, queues_dir: Path, rabbitmq: RabbitNode) -> None:
        self.tmp = tmp
        self.queues_dir = queues_dir
        self.rabbitmq = rabbitmq
        self.prefix = queue_prefix("ptest")
        self.procs: list[Proc] = []

    def flags(self, store: list[str], queues_dir: Path | None = None) -> list[str]:
        return [
            "--broker", self.rabbitmq.url, "--queue-prefix", self.prefix, *store,
            "--handlers", str(queues_dir or self.queues_dir), "--start-timeout-seconds", "5",
        ]  # fmt: skip

    def sqlite(self, name: str) -> list[str]:
        return ["--store", f"sqlite:///{self.tmp / name}"]

    def gateway(self, store: list[str]) -> str:
        port, listen = http_args()
        args = ["gateway", *self.flags(store), "--jwt-secret", HS_SECRET, *listen]
        proc = Proc(args, self.tmp / f"gateway-{len(self.procs)}.log").start()
        self.procs.append(proc)
        proc.wait_for_log("gateway listening")
        return f"http://127.0.0.1:{port}"

    def consumer(self, store: list[str], *extra: str) -> Proc:
        args = ["consumer", *self.flags(store), *extra]
        proc = Proc(args, self.tmp / f"consumer-{len(self.procs)}.log").start()
        self.procs.append(proc)
        proc.wait_for_log("consuming")
        return proc

    async def queue_names(self) -> set[str]:
        rows = await self.rabbitmq.listed("queues", "name")
        return {row["name"] for row in rows if row["name"].startswith(self.prefix)}


@pytest.fixture
def deployment(tmp_path: Path, queues_dir: Path, rabbitmq: RabbitNode) -> Iterator[Deployment]:
    made = Deployment(tmp_path, queues_dir, rabbitmq)
    try:
        yield made
    finally:
        for proc in made.procs:
            proc.kill()
            proc.popen.wait()
        names = [p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")]
        asyncio.run(delete_rabbit_queues(rabbitmq.url, made.prefix, [*names, "onlyb"]))


def refused(deployment: Deployment, store: list[str], queues_dir: Path) -> str:
    """Run a consumer on ``store`` to its end; assert it refused (exit 3, one line naming
    ``--queue-prefix``, nothing after it); the line."""
    args = ["consumer", *deployment.flags(store, queues_dir)]
    done = conveyor(*args, env=clean_env(), cwd=deployment.tmp)
    assert done.returncode == 3, (done.returncode, done.stderr)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("conveyor: cannot start: "), done.stderr
    assert "--queue-prefix" in last and deployment.prefix in last, last
    assert "release-prefix" in last, last
    assert "Traceback" not in done.stderr and "retrying" not in done.stderr, done.stderr
    return last


async def test_a_consumer_on_another_store_refuses_the_gateways_prefix(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.gateway(deployment.sqlite("a.db"))
    assert marker_queue(deployment.prefix) in await deployment.queue_names()
    before = await deployment.queue_names()
    # The consumer's handlers have one queue more: refused, it must not have declared it.
    b_queues = tmp_path / "b-queues"
    shutil.copytree(deployment.queues_dir, b_queues)
    add_queue(b_queues, "onlyb")
    refused(deployment, deployment.sqlite("b.db"), b_queues)
    assert await deployment.queue_names() == before
    assert f"{deployment.prefix}onlyb" not in before


@pytest.mark.parametrize("kind", ["sqlite", "mongo"])
async def test_one_store_from_two_processes_starts(
    deployment: Deployment, kind: str, request: pytest.FixtureRequest, keys: Keys
) -> None:
    if kind == "sqlite":
        store = deployment.sqlite("shared.db")
    else:
        url = request.getfixturevalue("mongo_url")
        store = ["--store", url, "--mongo-database", f"b_{uuid.uuid4().hex[:10]}"]
    base = deployment.gateway(store)
    deployment.consumer(store)
    token = keys.token(["tester"])
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/echo", json={"n": 1}, headers=headers) as resp:
            assert resp.status == 201, await resp.text()
            message_id = (await resp.json())["id"]

        async def complete() -> bool:
            async with session.get(f"{base}/echo/{message_id}", headers=headers) as resp:
                return bool((await resp.json())["status"] == "COMPLETE")

        await wait_until(complete, "the message to complete")


def test_release_prefix_lets_a_new_store_start(deployment: Deployment) -> None:
    deployment.gateway(deployment.sqlite("a.db"))
    deployment.procs[0].stop()  # the old deployment is stopped, its store wiped on purpose
    refused(deployment, deployment.sqlite("b.db"), deployment.queues_dir)
    release = ["release-prefix", "--broker", deployment.rabbitmq.url]
    done = conveyor(*release, "--queue-prefix", deployment.prefix)
    assert done.returncode == 0, done.stderr
    assert "released" in done.stdout and deployment.prefix in done.stdout, done.stdout
    deployment.consumer(deployment.sqlite("b.db"))  # now binds the prefix to b.db
    # It did bind it: releasing again finds a marker. Then the next store to start takes it.
    again = conveyor(*release, "--queue-prefix", deployment.prefix)
    assert again.returncode == 0 and "released" in again.stdout, again.stdout
    deployment.procs[-1].stop()
    deployment.consumer(deployment.sqlite("a.db"))
    refused(deployment, deployment.sqlite("b.db"), deployment.queues_dir)


def test_a_delivery_without_a_record_is_warned_about_and_counted(deployment: Deployment) -> None:
    port = free_port()
    consumer = deployment.consumer(deployment.sqlite("a.db"), "--metrics-port", str(port))
    stranger = f"no-such-record-{uuid.uuid4().hex[:8]}"
    asyncio.run(publish_from_outside(deployment.rabbitmq.url, deployment.prefix + "echo", stranger))
    consumer.wait_for_log(stranger)
    line = next(line for line in consumer.text().splitlines() if stranger in line)
    assert "WARNING" in line and "echo" in line and "no record" in line, line

    def counted() -> float | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            samples = parse(resp.read().decode())
        found = value(samples, "conveyor_deliveries_without_record_total", queue="echo")
        return found or None

    assert wait_until_sync(counted, "the delivery to be counted", 30) == 1
    assert consumer.alive()


async def publish_from_outside(url: str, queue: str, message_id: str) -> None:
    """Publish ``message_id`` to ``queue`` as a gateway would, with no record anywhere."""
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        body = json.dumps({"id": message_id, "queue": "echo"}).encode()
        message = aio_pika.Message(body, message_id=message_id, app_id="conveyor")
        await channel.default_exchange.publish(message, routing_key=queue)
