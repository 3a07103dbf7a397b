"""A fake RabbitMQ management API (the shared broker's plugin may be off, and tests never
enable plugins on it): it answers ``GET /api/queues/{vhost}`` and checks what a real one would,
the path, the basic auth (``mon``/``p@ss``) and the columns asked for."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

#: Queues the fake lists unless a test changes ``FakeManagement.queues``.
LISTED: list[dict[str, Any]] = [
    {"name": "conveyor.echo", "consumers": 2},
    {"name": "conveyor.echo.dead", "consumers": 0},
    {"name": "other.thing", "consumers": 5},
    {"name": "conveyor.odd"},  # no consumers field: left out
]


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


@contextlib.asynccontextmanager
async def running_management() -> AsyncIterator[tuple[FakeManagement, str]]:
    """A :class:`FakeManagement` listing :data:`LISTED` on a free port, and its URL (with the
    credentials it expects)."""
    fake = FakeManagement([dict(queue) for queue in LISTED])
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, f"http://mon:p%40ss@127.0.0.1:{server.port}"
    finally:
        await server.close()
