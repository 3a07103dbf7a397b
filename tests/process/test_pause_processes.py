"""Pausing a queue across real processes: a gateway and two ``conveyor consumer`` daemons
over RabbitMQ and a shared SQLite store, with ``conveyor queue pause|resume`` as an operator
runs it. Ten pause/resume cycles while messages are pushed and run: every message runs
exactly once, and a pause parks what was pushed meanwhile (nothing requeued, nothing
dead-lettered). The CLI's refusals are one line with exit 1, an unreachable gateway exit 3."""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.api_client import Api
from tests.support.brokers import RabbitNode
from tests.support.cluster import Cluster
from tests.support.processes import Proc, clean_env, conveyor
from tests.support.services import queue_prefix
from tests.support.sockets import free_port
from tests.support.tokens import Keys
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


@pytest.fixture
def cluster(tmp_path: Path, queues_dir: Path, rabbitmq: RabbitNode) -> Iterator[Cluster]:
    prefix = queue_prefix("ptest")
    flags = [
        "--broker", rabbitmq.url, "--queue-prefix", prefix,
        "--store", f"sqlite:///{tmp_path / 'shared.db'}", "--handlers", str(queues_dir),
        "--lease-seconds", "30",
    ]  # fmt: skip
    made = Cluster(tmp_path, flags, prefix, rabbitmq)
    try:
        yield made
    finally:
        made.close(queues_dir)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def cli(action: str, url: str, token: str | None, queue: str = "runlog") -> tuple[int, str]:
    env = clean_env(CONVEYOR_TOKEN=token) if token else clean_env()
    done = conveyor("queue", action, queue, "--url", url, env=env)
    return done.returncode, (done.stdout + done.stderr).strip()


def seen_pauses(proc: Proc, count: int) -> bool:
    """``proc`` logged that it learnt of ``count`` pauses of runlog."""
    return proc.text().count("queue runlog paused") >= count


def runs(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


async def test_ten_pause_cycles_under_load_run_every_message_once(
    cluster: Cluster, keys: Keys, session: aiohttp.ClientSession
) -> None:
    _, url = cluster.gateway()
    consumers = [cluster.consumer() for _ in range(2)]
    api = Api(session, url, keys)
    writer = keys.token(["tester"])
    admin = keys.token(["runlog_admin"], sub="ops")
    log = cluster.tmp / "runs.log"
    ids: list[str] = []

    async def push_some(count: int) -> list[str]:
        body = {"log": str(log), "seconds": 0.01}
        return list(await asyncio.gather(*(api.push("runlog", body, writer) for _ in range(count))))

    for cycle in range(10):
        ids += await push_some(10)
        code, out = await asyncio.to_thread(cli, "pause", url, admin)
        assert (code, out.split(" since ")[0]) == (0, "runlog paused"), out
        for proc in consumers:  # each logs when its once-a-second read sees the pause
            await wait_until(
                functools.partial(seen_pauses, proc, cycle + 1),
                f"cycle {cycle}: consumer {proc.pid} to see the pause",
            )
        parked = await push_some(5)
        ids += parked

        async def all_parked(refs: list[str] = parked) -> bool:
            for mid in refs:
                record = await (await api.get(f"/runlog/{mid}", writer)).json()
                if record["delivery"] != "parked":
                    return False
            return True

        await wait_until(all_parked, f"cycle {cycle}: the messages pushed while paused parked")
        assert not set(parked) & set(runs(log))
        code, out = await asyncio.to_thread(cli, "resume", url, admin)
        assert (code, out) == (0, "runlog running"), out
    for mid in ids:
        record = await api.wait_final("runlog", mid, writer, within=120)
        assert record["status"] == "COMPLETE", record
    per_message = collections.Counter(runs(log))
    assert set(per_message) == set(ids)
    assert set(per_message.values()) == {1}, "some message ran more than once"
    main = cluster.prefix + "runlog"
    assert (await cluster.rabbitmq.counts(main + ".dead")).messages == 0


async def test_the_cli_refuses_in_one_line(cluster: Cluster, keys: Keys) -> None:
    _, url = cluster.gateway()
    code, out = await asyncio.to_thread(cli, "pause", url, keys.token(["tester"]))
    assert code == 1 and out.startswith("conveyor: 403 Forbidden: ") and "\n" not in out, out
    code, out = await asyncio.to_thread(cli, "pause", url, None)
    assert code == 1 and out.startswith("conveyor: 401 "), out
    code, out = await asyncio.to_thread(cli, "resume", url, keys.token(["system_admin"]), "nope")
    assert code == 1 and out.startswith("conveyor: 404 "), out
    gone = f"http://127.0.0.1:{free_port()}"
    code, out = await asyncio.to_thread(cli, "pause", gone, keys.token(["system_admin"]))
    assert code == 3 and out.startswith(f"conveyor: cannot reach {gone}"), out
