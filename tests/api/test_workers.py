"""``GET /workers`` in both modes: the reader roles only (401 without a valid token, 403
with the roles named otherwise); the consumer inside ``serve`` listed live with its queues,
its id the lease owner of the message it runs (the record's ``lease``); a worker whose
heartbeats stop goes ``gone`` and is left out later; ``GET /queues`` counts the live
workers per queue."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from conveyor.serve import Served
from shared.domain.message import utcnow
from shared.ports import WorkerInfo
from tests.support.api_client import Api, StartConveyor
from tests.support.waiting import wait_until

READERS = ("system_admin", "system_reader", "queue_admin", "queue_reader")
#: Short timings, so a worker goes gone (and is forgotten) within a test.
FAST = {"worker_heartbeat_seconds": 0.2, "worker_gone_seconds": 1.0}


async def workers(api: Api, token: str) -> list[dict[str, Any]]:
    response = await api.get("/workers", token)
    assert response.status == 200, await response.text()
    body = await response.json()
    listed: list[dict[str, Any]] = body["workers"]
    return listed


async def test_only_reader_roles_may_list_workers(api: Api) -> None:
    assert (await api.get("/workers")).status == 401
    assert (await api.get("/workers", "garbage")).status == 401
    expired = api.keys.token(["system_admin"], ttl=-3600)
    assert (await api.get("/workers", expired)).status == 401
    writer = await api.get("/workers", api.keys.token(["system_writer", "tester"]))
    assert writer.status == 403
    problem = await writer.json()
    assert problem["required_roles"] == sorted(READERS)
    for role in READERS:
        assert (await api.get("/workers", api.keys.token([role]))).status == 200, role


async def test_the_serving_consumer_is_listed_live_with_its_queues(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor(**FAST)
    api = api_for(served)
    reader = api.keys.token(["system_reader"])

    async def listed() -> list[dict[str, Any]] | None:
        found = await workers(api, reader)
        return found or None

    [worker] = await wait_until(listed, "the consumer's first heartbeat")
    assert worker["id"] == served.consumer.owner
    assert worker["state"] == "live"
    assert worker["queues"] == sorted(served.runtime.registry().names)
    assert (worker["host"], worker["pid"]) == (socket.gethostname(), os.getpid())
    assert worker["concurrency"] == served.runtime.settings.concurrency
    assert worker["in_flight"] == 0

    queues = (await (await api.get("/queues", reader)).json())["queues"]
    assert {q["name"]: q["live_workers"] for q in queues} == dict.fromkeys(worker["queues"], 1)


async def test_a_running_message_is_held_by_the_listed_worker(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor(**FAST))
    admin = api.keys.token(["system_admin"])
    message_id = await api.push("slow", {"seconds": 30}, admin)

    async def running() -> dict[str, Any] | None:
        record = await (await api.get(f"/slow/{message_id}", admin)).json()
        return record if record["status"] == "INPROGRESS" else None

    record = await wait_until(running, "the message to run")

    async def busy() -> list[dict[str, Any]] | None:
        found = await workers(api, admin)
        return found if found and found[0]["in_flight"] == 1 else None

    [worker] = await wait_until(busy, "a heartbeat with the message in flight")
    assert record["history"][-1]["consumer"] == worker["id"]
    assert record["lease"]["owner"] == worker["id"]
    assert record["lease"]["until"] > record["history"][-1]["at"]


async def test_a_worker_without_heartbeats_goes_gone_then_is_left_out(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor(**FAST, worker_forget_seconds=2.0)
    api = api_for(served)
    reader = api.keys.token(["queue_reader"])
    now = utcnow()
    other = WorkerInfo("elsewhere:1:abcd", "elsewhere", 1, "9.9", ("slow",), 2, 0, now, now)
    await served.runtime.store.beat(other)  # one beat, never another

    async def state_of_other() -> str | None:
        found = {w["id"]: w for w in await workers(api, reader)}
        return found["elsewhere:1:abcd"]["state"] if "elsewhere:1:abcd" in found else "absent"

    assert await state_of_other() == "live"
    await wait_until(lambda: _is(state_of_other, "gone"), "the silent worker to go gone")
    await wait_until(lambda: _is(state_of_other, "absent"), "the silent worker to be left out")
    [own] = await workers(api, reader)  # the serving consumer, still beating, stays live
    assert (own["id"], own["state"]) == (served.consumer.owner, "live")


async def _is(probe: Callable[[], Any], wanted: str) -> bool | None:
    return (await probe()) == wanted or None


async def test_workers_is_declared_in_the_openapi_document(api: Api) -> None:
    admin = api.keys.token(["system_admin"])
    document = await (await api.get("/openapi.json", admin)).json()
    operation = document["paths"]["/workers"]["get"]
    assert operation["x-roles"] == sorted(READERS)
    assert set(operation["responses"]) >= {"200", "401", "403", "503"}


async def test_a_store_down_is_503_with_retry_after(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    await served.runtime.store.close()
    answer = await api.get("/workers", api.keys.token(["system_admin"]))
    assert answer.status == 503, await answer.text()
    assert answer.content_type == "application/problem+json"
    assert answer.headers["Retry-After"]
