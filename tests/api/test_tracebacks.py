"""``error.traceback``: a failed attempt's traceback, kept by the store and shown only to
the queue's admins (``system_admin``, ``<queue>_admin``), over HTTP in both modes: on
``GET``, ``?wait``, listings, event streams and a push's idempotent replay; never to a
writer, nor to a handler's
``ctx.messaging``; at most 16 KiB, its end kept.

The failing handler is ``tests/fixtures/queues/extra/nestedfail.py`` (``KeyError`` from a
nested function).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from conveyor.serve import Served
from shared.domain.tracebacks import CUT_MARKER, TRACEBACK_LIMIT
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.sse import STREAM, collect
from tests.support.waiting import wait_until

WRITER = ["tester"]
#: ``<queue>_admin`` alone may redrive but not read: with a reading role it sees tracebacks.
ADMINS = [["system_admin"], ["nested_admin", "tester"]]


@pytest.fixture
async def tapi(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    roles = {"roles": WRITER}
    add_queue(queues_dir, "nested", handler="nestedfail", roles=roles)
    add_queue(
        queues_dir,
        "later",
        handler="nestedfail",
        roles=roles,
        max_attempts=2,
        retry_backoff_seconds=300,
    )
    add_queue(queues_dir, "pusher", handler="pusher", roles=roles)
    return api_for(await start_conveyor())


async def failed(api: Api, body: Any, queue: str = "nested") -> str:
    """Push ``body`` as a writer; the id, once its message is ERROR."""
    token = api.keys.token(WRITER)
    message_id = await api.push(queue, body, token)
    assert (await api.wait_final(queue, message_id, token))["status"] == "ERROR"
    return message_id


async def answers(api: Api, message_id: str, roles: list[str]) -> list[dict[str, Any]]:
    """The record as ``GET``, ``GET ?wait``, the listing and the event stream show it to a
    token with ``roles``."""
    token, path = api.keys.token(roles), f"/nested/{message_id}"
    shown = []
    for url in (path, f"{path}?wait=5", "/nested?status=ERROR"):
        resp = await api.get(url, token)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        shown.append(body if "items" not in body else body["items"][0])
    headers = {**STREAM, **api.auth(token)}
    timeout = aiohttp.ClientTimeout(total=30)
    async with api.session.get(
        f"{api.base}{path}/events", headers=headers, timeout=timeout
    ) as resp:
        assert resp.status == 200, await resp.text()
        [event] = await collect(resp)
    shown.append(event.data)
    assert all(record["id"] == message_id for record in shown)
    return shown


async def test_admins_see_the_traceback_writers_do_not(tapi: Api) -> None:
    message_id = await failed(tapi, {"depth": 3})
    for roles in ADMINS:
        for record in await answers(tapi, message_id, roles):
            error = record["error"]
            assert set(error) == {"type", "message", "traceback"}, roles
            assert (error["type"], error["message"]) == ("KeyError", "'missing_key'")
            trace = error["traceback"]
            assert trace.startswith("Traceback (most recent call last):\n")
            assert trace.endswith("KeyError: 'missing_key'\n")
            assert "nested.py" in trace  # the handler file (copied as <queue>.py)
            assert 'return mapping["missing_key"]' in trace
            assert trace.count(", in down\n") + trace.count(", in across\n") == 4
    for record in await answers(tapi, message_id, WRITER):
        assert record["error"] == {"type": "KeyError", "message": "'missing_key'"}


async def test_an_idempotent_replay_of_a_failed_push_follows_the_same_rule(tapi: Api) -> None:
    """Same subject, same key: the replay answers the failed record, as its caller may see it."""
    key = {"Idempotency-Key": "fail-once"}
    writer = tapi.keys.token(WRITER)
    first = await tapi.post("nested", {"depth": 1}, writer, headers=key)
    assert first.status == 201, await first.text()
    message_id = (await first.json())["id"]
    await tapi.wait_final("nested", message_id, writer)
    for roles, sees in ((WRITER, False), (["system_admin"], True)):
        again = await tapi.post("nested", {"depth": 1}, tapi.keys.token(roles), headers=key)
        assert again.status == 200, await again.text()
        record = await again.json()
        assert (record["id"], record["status"]) == (message_id, "ERROR")
        assert ("traceback" in record["error"]) is sees, roles


async def test_a_retried_attempts_error_keeps_its_traceback(tapi: Api) -> None:
    """The first attempt failed, the retry waits (300 s): the PENDING record
    carries the first attempt's error with its traceback."""
    token = tapi.keys.token(WRITER)
    message_id = await tapi.push("later", {"depth": 1}, token)
    admin = tapi.keys.token(["later_admin", "tester"])

    async def retried() -> dict[str, Any] | None:
        resp = await tapi.get(f"/later/{message_id}", admin)
        assert resp.status == 200, await resp.text()
        record: dict[str, Any] = await resp.json()
        return record if record["error"] is not None else None

    record = await wait_until(retried, "the first attempt to fail")
    assert record["status"] == "PENDING" and record["attempts"] == 1
    assert record["error"]["traceback"].endswith("KeyError: 'missing_key'\n")
    writer_view = await (await tapi.get(f"/later/{message_id}", token)).json()
    assert "traceback" not in writer_view["error"]


async def test_ctx_messaging_never_shows_the_traceback(tapi: Api) -> None:
    message_id = await failed(tapi, {"depth": 1})
    token = tapi.keys.token(WRITER)
    ask = {"op": "get", "queue": "nested", "id": message_id}
    asked = await tapi.wait_final("pusher", await tapi.push("pusher", ask, token), token)
    assert asked["status"] == "COMPLETE", asked
    assert asked["result"]["record"]["error"] == {"type": "KeyError", "message": "'missing_key'"}
    waited = {**ask, "wait": 5}
    asked = await tapi.wait_final("pusher", await tapi.push("pusher", waited, token), token)
    assert "traceback" not in asked["result"]["record"]["error"]


@pytest.mark.parametrize(
    ("body", "last_line"),
    [
        ({"depth": 600}, "KeyError: 'missing_key'\n"),
        ({"huge": 100_000}, "x the end\n"),
    ],
    ids=["deep-recursion", "huge-message"],
)
async def test_the_traceback_keeps_its_last_16_kib(
    tapi: Api, body: dict[str, int], last_line: str
) -> None:
    message_id = await failed(tapi, body)
    [record, *_] = await answers(tapi, message_id, ["system_admin"])
    trace = record["error"]["traceback"]
    assert len(trace.encode()) <= TRACEBACK_LIMIT
    assert len(trace.encode()) > TRACEBACK_LIMIT - 300  # cut, not dropped
    assert trace.startswith(CUT_MARKER) and trace.endswith(last_line)
    if "depth" in body:  # cut at a line boundary: the line after the marker is whole
        assert trace.removeprefix(CUT_MARKER).startswith(("  File ", "    ", "  [Previous"))
