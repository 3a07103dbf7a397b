"""The event stream across processes: a ``conveyor gateway`` serves the stream while a
``conveyor consumer`` (another process, RabbitMQ + the MongoDB wire server) runs the handler;
progress and status changes reach the gateway through the events fanout."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.api_client import Api
from tests.support.brokers import RabbitNode
from tests.support.handler_files import touch
from tests.support.processes import Proc, http_args
from tests.support.queues import add_event_queues
from tests.support.services import delete_rabbit_queues, queue_prefix
from tests.support.sse import STREAM, Event, events
from tests.support.tokens import HS_SECRET, Keys

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def queue_names(queues_dir: Path) -> list[str]:
    return [p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")]


@pytest.fixture
async def processes(
    tmp_path: Path, queues_dir: Path, mongo_url: str, rabbitmq: RabbitNode
) -> AsyncIterator[tuple[str, list[Proc]]]:
    """A gateway and a consumer process over one broker and database; the gateway's URL."""
    add_event_queues(queues_dir)
    names = queue_names(queues_dir)
    prefix = queue_prefix("etest")
    flags = [
        *("--broker", rabbitmq.url, "--store", mongo_url),
        *("--mongo-database", f"e_{uuid.uuid4().hex[:10]}", "--queue-prefix", prefix),
        *("--handlers", str(queues_dir), "--lease-seconds", "3"),
    ]
    port, listen = http_args()
    procs: list[Proc] = []
    try:
        gateway = Proc(
            ["gateway", *flags, "--jwt-secret", HS_SECRET, *listen], tmp_path / "gateway.log"
        )
        procs.append(gateway.start())
        gateway.wait_for_log("gateway listening")
        consumer = Proc(["consumer", *flags, "--grace-seconds", "2"], tmp_path / "consumer.log")
        procs.append(consumer.start())
        consumer.wait_for_log("consuming")
        yield f"http://127.0.0.1:{port}", procs
    finally:
        for proc in procs:
            proc.kill()
            proc.popen.wait()
        await delete_rabbit_queues(rabbitmq.url, prefix, names)


@pytest.fixture
def pids(processes: tuple[str, list[Proc]]) -> Iterator[list[int]]:
    yield [proc.pid for proc in processes[1]]


async def test_progress_from_a_consumer_process_reaches_a_stream_on_the_gateway(
    processes: tuple[str, list[Proc]], pids: list[int], keys: Keys, tmp_path: Path
) -> None:
    url, _ = processes
    token = keys.token(["tester"])
    steps = [0.1, 0.6]
    gate = tmp_path / "gate"
    seen: list[Event] = []
    async with aiohttp.ClientSession() as session:
        api = Api(session, url, keys)
        mid = await api.push("progress", {"steps": steps, "gate": str(gate)}, token)
        headers = {**api.auth(token), **STREAM}
        timeout = aiohttp.ClientTimeout(total=60)
        async with session.get(
            f"{url}/progress/{mid}/events", headers=headers, timeout=timeout
        ) as resp:
            assert resp.status == 200, await resp.text()
            async for event in events(resp):
                if event.comment is not None:
                    continue
                seen.append(event)
                progress = event.data["progress"]
                if progress is not None and event.data["status"] == "INPROGRESS":
                    touch(Path(f"{gate}.{steps.index(progress['fraction'])}"))
        record = await (await api.get(f"/progress/{mid}", token)).json()
    reports = [e.data["progress"]["fraction"] for e in seen if e.data["progress"]]
    assert list(dict.fromkeys(reports)) == steps
    assert seen[-1].data["status"] == "COMPLETE" and seen[-1].version == record["version"]
    versions = [e.version for e in seen]
    assert versions == sorted(set(versions))
    consumer_pid = pids[1]
    ran_by = record["history"][1]["consumer"]
    assert f":{consumer_pid}:" in ran_by, (ran_by, pids)  # host:pid:… of the consumer process
