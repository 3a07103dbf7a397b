"""``GET /queues``: definitions and message counts, guarded by the admin/reader roles."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, StartConveyor
from tests.helpers import add_queue, error_list


def by_name(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict) and isinstance(body["queues"], list), body
    return {q["name"]: q for q in body["queues"]}


async def test_queues_lists_definitions_and_counts(api: Api) -> None:
    tester = api.keys.token(["tester"])
    done = [await api.push("echo", {"n": n}, tester) for n in range(2)]
    for message_id in done:
        await api.wait_final("echo", message_id, tester)
    failed = await api.push("fail", {"x": 1}, tester)
    assert (await api.wait_final("fail", failed, tester))["status"] == "ERROR"

    resp = await api.get("/queues", api.keys.token(["queue_reader"]))
    assert resp.status == 200, await resp.text()
    queues = by_name(await resp.json())
    assert {"echo", "fail", "open", "slow"} <= set(queues)
    echo = queues["echo"]
    assert echo["messages"] == {"PENDING": 0, "INPROGRESS": 0, "COMPLETE": 2, "ERROR": 0}
    assert echo["oldest_pending_created_at"] is None
    assert echo["schema"] == {"type": "object"}
    assert echo["auth"] is True
    assert echo["roles"]["needsRole"] is True and echo["roles"]["replace"] is False
    assert "tester" in echo["roles"]["allowed"] and "system_admin" in echo["roles"]["allowed"]
    assert echo["options"]["max_attempts"] >= 1
    assert "timeout_seconds" in echo["options"]
    assert queues["fail"]["messages"]["ERROR"] == 1
    assert queues["open"]["auth"] is False
    assert queues["open"]["messages"] == {"PENDING": 0, "INPROGRESS": 0, "COMPLETE": 0, "ERROR": 0}


async def test_queues_shows_pending_and_oldest(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Any
) -> None:
    # A queue whose handler never finishes quickly keeps later messages PENDING: with
    # concurrency 1 the first runs (slow) and the rest wait.
    add_queue(queues_dir, "held", handler="slow", roles={"roles": ["tester"]}, description="d")
    api: Api = api_for(await start_conveyor(concurrency=1, grace_seconds=0.5))
    tester = api.keys.token(["tester"])
    for n in range(3):
        await api.push("held", {"seconds": 30, "n": n}, tester)
    resp = await api.get("/queues", api.keys.token(["system_reader"]))
    assert resp.status == 200, await resp.text()
    held = by_name(await resp.json())["held"]
    assert held["description"] == "d"
    counts = held["messages"]
    assert counts["PENDING"] + counts["INPROGRESS"] == 3 and counts["PENDING"] >= 2
    assert held["oldest_pending_created_at"] is not None
    assert held["oldest_pending_created_at"].endswith("Z")


async def test_queues_needs_an_admin_or_reader_role(api: Api) -> None:
    await error_list(await api.get("/queues"), 401)
    await error_list(await api.get("/queues", "not-a-token"), 401)
    await error_list(await api.get("/queues", api.keys.token(["tester"])), 403)
    await error_list(await api.get("/queues", api.keys.token(["system_writer"])), 403)
    for role in ("system_admin", "system_reader", "queue_reader", "queue_admin"):
        resp = await api.get("/queues", api.keys.token([role]))
        assert resp.status == 200, (role, await resp.text())
