"""The event stream across processes: a ``conveyor gateway`` serves the stream while a
``conveyor consumer`` (another process, RabbitMQ + the MongoDB wire server) runs the handler;
progress and status changes reach the gateway through the events fanout. And a real
``conveyor serve`` ends its open streams on SIGTERM."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.api_client import Api
from tests.support.brokers import RabbitNode
from tests.support.handler_files import touch
from tests.support.processes import Proc, clean_env, http_args
from tests.support.queues import add_event_queues
from tests.support.serve import ServeProcess
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


def test_sigterm_ends_open_streams(tmp_path: Path, queues_dir: Path, keys: Keys) -> None:
    """A real ``conveyor serve`` with a stream open: SIGTERM ends the stream, then the
    process exits (graceful shutdown, ``gateway.draining``)."""
    add_event_queues(queues_dir)
    proc = ServeProcess(
        [
            "--handlers",
            str(queues_dir),
            "--store",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--jwt-secret",
            HS_SECRET,
            "--drain-seconds",
            "0",
            "--grace-seconds",
            "1",
            "--events-heartbeat-seconds",
            "30",
        ],
        clean_env(),
        tmp_path / "serve.log",
    )
    try:
        proc.wait_healthy()
        asyncio.run(_stream_until_sigterm(proc, tmp_path, keys.token(["tester"])))
        assert proc.wait_exit(20) == 0, proc.log()
    finally:
        proc.close()


async def _stream_until_sigterm(proc: ServeProcess, tmp_path: Path, token: str) -> None:
    body: dict[str, Any] = {"marker": str(tmp_path / "m"), "release": str(tmp_path / "r")}
    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {token}"}
        async with session.post(f"{proc.url}/gate", json=body, headers=auth) as resp:
            assert resp.status == 201, await resp.text()
            mid = (await resp.json())["id"]
        url = f"{proc.url}/gate/{mid}/events"
        async with session.get(url, headers={**auth, **STREAM}) as resp:
            assert resp.status == 200
            got = events(resp)
            first = await anext(got)
            assert first.event == "status"
            proc.proc.terminate()
            # Ends cleanly (the last chunk is sent: an aborted answer would raise
            # ClientPayloadError here), before the handler's grace period cancels anything.
            rest = [e async for e in got]
        assert all(e.comment is not None or e.event != "deleted" for e in rest)
