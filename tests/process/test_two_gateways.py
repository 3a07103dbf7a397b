"""Two ``conveyor gateway`` processes on one store and one broker, with a consumer: a
completion carries its final record to the waiters of both (``shared.service.carried``), and
what one gateway does to a record (delete, redrive) or what the store does (expiry) is what
the other answers next: no carried copy outlives the change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.api_client import Api
from tests.support.cluster import Cluster
from tests.support.handler_files import touch
from tests.support.queues import add_wait_queues
from tests.support.tokens import Keys
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


@pytest.fixture
async def gateways(
    cluster: Cluster, queues_dir: Path, keys: Keys
) -> AsyncIterator[tuple[Api, Api]]:
    """Two gateways and a consumer (the wait test queues); a client for each gateway."""
    add_wait_queues(queues_dir)
    (_, first), (_, second) = cluster.gateway(), cluster.gateway()
    cluster.consumer()
    async with aiohttp.ClientSession() as session:
        yield Api(session, first, keys), Api(session, second, keys)


async def waited(api: Api, path: str, token: str) -> dict[str, Any]:
    resp = await api.get(f"{path}?wait=30", token)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def shown(api: Api, path: str, token: str) -> tuple[int, dict[str, Any]]:
    resp = await api.get(path, token)
    return resp.status, await resp.json()


async def test_waiters_on_both_gateways_get_the_final_record_then_see_a_delete(
    gateways: tuple[Api, Api], tmp_path: Path
) -> None:
    one, two = gateways
    writer, admin = one.keys.token(["tester"]), one.keys.token(["system_admin"])
    release = tmp_path / "release"
    message_id = await one.push("waithold", {"release": str(release), "fail": True}, writer)
    path = f"/waithold/{message_id}"
    waits = [asyncio.ensure_future(waited(one, path, writer))]
    waits.append(asyncio.ensure_future(waited(two, path, admin)))
    # A round trip to each gateway while the handler holds the message: the waits, sent
    # before, are most likely registered (if not, they read the final record: same answers).
    for api in (one, two):
        assert (await shown(api, path, writer))[0] == 200
    touch(release)
    by_writer, by_admin = await asyncio.wait_for(asyncio.gather(*waits), 30)
    assert by_writer["status"] == by_admin["status"] == "ERROR"
    assert "traceback" not in by_writer["error"] and "traceback" in by_admin["error"]
    assert by_writer == (await shown(two, path, writer))[1]  # exact, whichever gateway
    assert by_admin == (await shown(one, path, admin))[1]

    assert (await two.delete(path, admin)).status == 204
    assert (await shown(one, path, writer))[0] == 404
    assert (await one.get(f"{path}?wait=5", writer)).status == 404


async def test_a_delete_on_one_gateway_answers_a_waiter_on_the_other(
    gateways: tuple[Api, Api], tmp_path: Path
) -> None:
    one, two = gateways
    token = one.keys.token(["tester"])
    message_id = await one.push("waithold", {"release": str(tmp_path / "never")}, token)
    path = f"/waithold/{message_id}"
    await wait_until(
        lambda: _status(one, path, token, "INPROGRESS"), "the handler to hold the message"
    )
    waiting = asyncio.ensure_future(one.get(f"{path}?wait=30", token))
    assert (await one.get(path, token)).status == 200  # the wait was sent before (see above)
    assert (await two.delete(path, token)).status == 204
    resp = await asyncio.wait_for(waiting, 20)
    assert resp.status == 404


async def test_a_redrive_on_one_gateway_is_what_the_other_answers_next(
    gateways: tuple[Api, Api], tmp_path: Path
) -> None:
    one, two = gateways
    token, admin = one.keys.token(["tester"]), one.keys.token(["system_admin"])
    message_id = await one.push("waithold", {"fail": True}, token)
    path = f"/waithold/{message_id}"
    first = await waited(one, path, token)
    assert first["status"] == "ERROR"
    resp = await two.post(f"waithold/{message_id}/retry", None, admin)
    assert resp.status == 200, await resp.text()
    status, now = await shown(one, path, token)
    assert status == 200 and now["version"] > first["version"]  # not the old final record
    second = await waited(one, path, token)
    # The new run fails at once, so ``now`` may already be its final record: never older.
    assert second["status"] == "ERROR" and second["version"] >= now["version"]
    assert second == (await shown(two, path, token))[1]
    assert [t["status"] for t in second["history"]].count("ERROR") == 2


async def test_an_expired_record_is_gone_on_both_gateways(gateways: tuple[Api, Api]) -> None:
    one, two = gateways
    token = one.keys.token(["tester"])
    message_id = await one.push("waitttl", {}, token)
    path = f"/waitttl/{message_id}"
    assert (await waited(two, path, token))["status"] == "COMPLETE"
    await wait_until(lambda: _status(one, path, token, None), "the record to expire on one")
    assert (await shown(two, path, token))[0] == 404
    assert (await two.get(f"{path}?wait=5", token)).status == 404


async def _status(api: Api, path: str, token: str, status: str | None) -> bool:
    """Whether ``path`` shows ``status`` now (None: gone, 404)."""
    code, body = await shown(api, path, token)
    return code == 404 if status is None else code == 200 and body["status"] == status
