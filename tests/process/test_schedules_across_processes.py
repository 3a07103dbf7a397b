"""Cron schedules with real processes in distributed mode: two gateways and two consumers
(RabbitMQ + the MongoDB wire server) running one schedule make exactly one message per tick,
and none between ticks. Time comes from the test-only clock file (``--test-clock-file``), so
the minutes pass in a few seconds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from shared.domain.cron import tick_message_id
from tests.support.api_client import Api
from tests.support.brokers import RabbitNode
from tests.support.cluster import Cluster, cluster_of
from tests.support.queues import add_queue
from tests.support.services import queue_prefix
from tests.support.tokens import Keys
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

Q = "cronq"


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    path = tmp_path / "clock.txt"
    path.write_text("2026-01-01T10:00:30+00:00")
    return path


@pytest.fixture
def cron_cluster(
    tmp_path: Path, queues_dir: Path, mongo_url: str, rabbitmq: RabbitNode, clock_file: Path
) -> Iterator[Cluster]:
    add_queue(
        queues_dir,
        Q,
        schema={"type": "object"},
        roles={"roles": ["tester"]},
        schedules=[{"name": "every-minute", "cron": "* * * * *", "message": {"n": 1}}],
    )
    prefix = queue_prefix("ptest")  # ptest: what leftover cleanup knows
    flags = [
        *("--broker", rabbitmq.url, "--store", mongo_url),
        *("--mongo-database", f"c_{uuid.uuid4().hex[:10]}", "--queue-prefix", prefix),
        *("--handlers", str(queues_dir), "--test-clock-file", str(clock_file)),
    ]
    with cluster_of(tmp_path, flags, prefix, rabbitmq, queues_dir) as made:
        yield made


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def tick(minute: int, second: int = 0) -> datetime:
    return datetime(2026, 1, 1, 10, minute, second, tzinfo=UTC)


def set_clock(path: Path, at: datetime) -> None:
    path.write_text(at.isoformat())


async def test_two_gateways_two_consumers_make_one_message_per_tick(
    cron_cluster: Cluster, keys: Keys, session: aiohttp.ClientSession, clock_file: Path
) -> None:
    gateways = [Api(session, url, keys) for _, url in (cron_cluster.gateway() for _ in range(2))]
    consumers = [cron_cluster.consumer() for _ in range(2)]
    token = keys.token(["tester"])

    def logs() -> str:
        return "\n".join(c.text() for c in consumers)

    await wait_until(lambda: "first tick 2026-01-01T10:01:00" in logs(), "the schedule anchored")

    async def ids(api: Api) -> set[str]:
        resp = await api.get(f"/{Q}?limit=200", token)
        assert resp.status == 200, await resp.text()
        return {item["id"] for item in (await resp.json())["items"]}

    # Each tick's message arriving proves both schedulers ran on past the ticks before it
    # (no fixed wait): when the last one is there, nothing else may have been made.
    expected: set[str] = set()
    for minute in (1, 2, 3, 4):
        set_clock(clock_file, tick(minute))
        expected.add(tick_message_id(Q, "every-minute", tick(minute)))
        api, want = gateways[minute % 2], frozenset(expected)

        async def arrived() -> bool:
            return await ids(api) >= want  # noqa: B023 (awaited within this iteration)

        await wait_until(arrived, f"the message of tick 10:0{minute}", detail=logs)

    for api in gateways:  # one per tick, and nothing else
        assert await ids(api) == expected
    for message_id in expected:
        record = await gateways[0].wait_final(Q, message_id, token, within=60)
        assert record["status"] == "COMPLETE" and record["attempts"] == 1
        assert record["request"] == {"n": 1}
    assert logs().count("pushed message") == len(expected) == 4, logs()
    resp = await gateways[1].get("/queues", keys.token(["queue_reader"]))
    (queue,) = [q for q in (await resp.json())["queues"] if q["name"] == Q]
    [shown] = queue["schedules"]
    assert shown["last_message_id"] == tick_message_id(Q, "every-minute", tick(4))
    assert shown["next_run"] == "2026-01-01T10:05:00.000Z"
