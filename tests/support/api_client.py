"""Clients of a running Conveyor's HTTP API: :class:`Api` (aiohttp, for a Conveyor in the
test's event loop) and :func:`http_call` (blocking, for the process tests).

Not named ``http``: tests/support/ is ``sys.path[0]`` when mongo_wire.py runs as a script,
and a module there named like the standard library's would shadow it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from conveyor.serve import Served
from tests.support.tokens import Keys
from tests.support.waiting import wait_until

StartConveyor = Callable[..., Awaitable[Served]]


class Api:
    """A thin HTTP client for one running Conveyor (``served``: that Conveyor, when it runs in
    the test's event loop)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base: str,
        keys: Keys,
        served: Served | None = None,
    ) -> None:
        self.session = session
        self.base = base
        self.keys = keys
        self.served = served

    async def until_waiting(self, count: int = 1) -> None:
        """Wait until ``count`` ``GET ?wait=`` requests are registered with this Conveyor (its
        gateway's waiters), so that what the test does next happens while they wait."""
        assert self.served is not None, "a Conveyor started by start_conveyor"
        notifier = self.served.runtime.notifier
        await wait_until(lambda: notifier.waiting >= count, f"{count} registered waiter(s)")

    def auth(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def post(
        self, queue: str, body: Any, token: str | None = None, **kw: Any
    ) -> aiohttp.ClientResponse:
        headers = {**self.auth(token), **kw.pop("headers", {})}
        resp = await self.session.post(f"{self.base}/{queue}", json=body, headers=headers, **kw)
        await resp.read()
        return resp

    async def get(self, path: str, token: str | None = None) -> aiohttp.ClientResponse:
        resp = await self.session.get(f"{self.base}{path}", headers=self.auth(token))
        await resp.read()
        return resp

    async def delete(self, path: str, token: str | None = None) -> aiohttp.ClientResponse:
        resp = await self.session.delete(f"{self.base}{path}", headers=self.auth(token))
        await resp.read()
        return resp

    async def push(self, queue: str, body: Any, token: str) -> str:
        """POST and assert 201; the message id."""
        resp = await self.post(queue, body, token)
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["id"])

    async def wait_final(
        self, queue: str, message_id: str, token: str, within: float = 20.0
    ) -> dict[str, Any]:
        """Poll until the message is final (COMPLETE, ERROR or CANCELLED); the record."""
        last: list[dict[str, Any]] = []

        async def final() -> dict[str, Any] | None:
            resp = await self.get(f"/{queue}/{message_id}", token)
            assert resp.status == 200, await resp.text()
            record: dict[str, Any] = await resp.json()
            last[:] = [record]
            return record if record["status"] in ("COMPLETE", "ERROR", "CANCELLED") else None

        record: dict[str, Any] = await wait_until(
            final, f"/{queue}/{message_id} to be final", within, detail=lambda: last
        )
        return record


def http_call(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 10
) -> tuple[int, Any]:
    """A blocking HTTP call for the process tests; (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else None
