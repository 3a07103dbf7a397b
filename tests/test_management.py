"""Consumer counts from the RabbitMQ management API (``shared.adapters.rabbitmq.management``).

The shared broker's management plugin may not be enabled (and tests never enable plugins on
it), so these unit tests answer ``GET /api/queues/{vhost}`` from a small local HTTP server
that checks what a real one would: the path, the basic auth, the columns asked for.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.adapters.rabbitmq.management import ConsumerCounts, vhost_of
from tests.support.http import Api, StartConveyor


class FakeManagement:
    """Answers ``/api/queues/{vhost}`` with ``queues``; counts the requests it got."""

    def __init__(self, queues: list[dict[str, Any]]) -> None:
        self.queues = queues
        self.requests: list[web.Request] = []
        self.app = web.Application()
        self.app.router.add_get("/api/queues/{vhost}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if (
            request.headers.get("Authorization")
            != "Basic " + base64.b64encode(b"mon:p@ss").decode()
        ):
            return web.json_response({"error": "not_authorised"}, status=401)
        assert request.query["columns"] == "name,consumers"
        assert request.match_info["vhost"] == "/"
        return web.json_response(self.queues)


@pytest.fixture
async def management() -> AsyncIterator[tuple[FakeManagement, str]]:
    fake = FakeManagement(
        [
            {"name": "conveyor.echo", "consumers": 2},
            {"name": "conveyor.echo.dead", "consumers": 0},
            {"name": "other.thing", "consumers": 5},
            {"name": "conveyor.odd"},  # no consumers field: left out
        ]
    )
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, f"http://mon:p%40ss@127.0.0.1:{server.port}"
    finally:
        await server.close()


def test_vhost_of_broker_url() -> None:
    assert vhost_of(None) == "/"
    assert vhost_of("amqp://guest:guest@localhost:5672/") == "/"
    assert vhost_of("amqp://guest:guest@localhost:5672") == "/"
    assert vhost_of("amqp://h/%2F") == "/"
    assert vhost_of("amqp://h/prod") == "prod"


async def test_consumer_counts_by_queue_cached(management: tuple[FakeManagement, str]) -> None:
    fake, url = management
    async with aiohttp.ClientSession() as http:
        counts = ConsumerCounts(url, http, vhost="/", prefix="conveyor.")
        assert await counts.get() == {"echo": 2, "echo.dead": 0}
        fake.queues[0]["consumers"] = 3
        assert await counts.get() == {"echo": 2, "echo.dead": 0}  # within the TTL: cached
        assert len(fake.requests) == 1


async def test_consumer_counts_unknown_when_refused_or_down(
    management: tuple[FakeManagement, str],
) -> None:
    _, url = management
    async with aiohttp.ClientSession() as http:
        wrong = url.replace("p%40ss", "nope")
        assert await ConsumerCounts(wrong, http, vhost="/", prefix="conveyor.").get() is None
        down = "http://127.0.0.1:9"  # discard port: nothing listens
        assert await ConsumerCounts(down, http, vhost="/", prefix="conveyor.").get() is None


async def test_queues_show_consumers_when_management_is_configured(
    management: tuple[FakeManagement, str], start_conveyor: StartConveyor, api_for: Any
) -> None:
    fake, url = management
    served = await start_conveyor(rabbitmq_management_url=url)
    prefix = served.runtime.settings.queue_prefix  # the distributed run's is unique
    fake.queues = [{"name": f"{prefix}echo", "consumers": 2}]
    api: Api = api_for(served)
    resp = await api.get("/queues", api.keys.token(["system_reader"]))
    queues = {q["name"]: q for q in (await resp.json())["queues"]}
    assert queues["echo"]["consumers"] == 2
    assert queues["fail"]["consumers"] is None  # the broker does not list it
