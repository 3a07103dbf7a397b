"""``GET /queues``: definitions and message counts, guarded by the admin/reader roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared.domain.message import Status
from tests.support.api_client import Api, StartConveyor
from tests.support.management import FakeManagement, running_management
from tests.support.queues import add_queue
from tests.support.responses import error_list


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
    assert echo["messages"] == {s.value: 2 if s == Status.COMPLETE else 0 for s in Status}
    assert echo["oldest_pending_created_at"] is None
    assert echo["schema"] == {"type": "object"}
    assert echo["auth"] is True
    assert echo["roles"]["needsRole"] is True and echo["roles"]["replace"] is False
    assert "tester" in echo["roles"]["allowed"] and "system_admin" in echo["roles"]["allowed"]
    assert echo["options"]["max_attempts"] >= 1
    assert "timeout_seconds" in echo["options"]
    assert queues["fail"]["messages"]["ERROR"] == 1
    assert queues["open"]["auth"] is False
    assert queues["open"]["messages"] == {s.value: 0 for s in Status}


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


async def test_queues_answers_every_valid_token_with_the_queues_it_has_a_role_on(
    api: Api,
) -> None:
    await error_list(await api.get("/queues", "not-a-token"), 401)
    # A writer-only token sees the queues it may push to (and the auth-off one), no errors.
    for role in ("tester", "system_writer"):
        resp = await api.get("/queues", api.keys.token([role]))
        assert resp.status == 200, (role, await resp.text())
        body = await resp.json()
        names = set(by_name(body))
        assert {"echo", "fail", "open"} <= names, (role, names)
        assert "load_errors" not in body
    # <queue>_writer: that queue (its default role) and the open one only.
    resp = await api.get("/queues", api.keys.token(["echo_writer"]))
    assert set(by_name(await resp.json())) == {"echo", "open"}
    # A token with a role on no queue: only the queue with auth off.
    resp = await api.get("/queues", api.keys.token(["nobody"]))
    assert set(by_name(await resp.json())) == {"open"}
    # No token: only the queues with auth off (they need no token anyway).
    resp = await api.get("/queues")
    assert resp.status == 200 and set(by_name(await resp.json())) == {"open"}
    for role in ("system_admin", "system_reader", "queue_reader", "queue_admin"):
        resp = await api.get("/queues", api.keys.token([role]))
        assert resp.status == 200, (role, await resp.text())
        body = await resp.json()
        assert {"echo", "fail", "open", "slow"} <= set(by_name(body))
        assert body["load_errors"] == []


async def test_queues_without_open_queues_needs_a_token_and_may_be_empty(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path
) -> None:
    (queues_dir / "open.queue.json").unlink()
    api: Api = api_for(await start_conveyor())
    await error_list(await api.get("/queues"), 401)
    resp = await api.get("/queues", api.keys.token(["nobody"]))
    assert resp.status == 200 and await resp.json() == {"queues": []}


async def test_queues_shows_load_errors_rates_and_unknown_consumers(
    start_conveyor: StartConveyor, api_for: Any, queues_dir: Path
) -> None:
    (queues_dir / "broken.queue.json").write_text('{"name": "broken", "incoming": ')
    api: Api = api_for(await start_conveyor())
    tester = api.keys.token(["tester"])
    for n in range(3):
        await api.wait_final("echo", await api.push("echo", {"n": n}, tester), tester)
    await api.wait_final("fail", await api.push("fail", {"x": 1}, tester), tester)
    body = await (await api.get("/queues", api.keys.token(["system_reader"]))).json()
    [error] = body["load_errors"]
    assert "broken.queue.json" in error
    queues = by_name(body)
    echo, fail, slow = queues["echo"], queues["fail"], queues["slow"]
    assert echo["finished"]["window_seconds"] == 300
    finals = {s.value for s in Status if s.final}  # CANCELLED too, where it exists
    assert echo["finished"]["by_status"] == {s: 3 if s == "COMPLETE" else 0 for s in finals}
    assert echo["completed_per_minute"] == 0.6
    assert fail["finished"]["by_status"] == {s: 1 if s == "ERROR" else 0 for s in finals}
    assert fail["completed_per_minute"] == 0
    assert slow["finished"]["by_status"] == dict.fromkeys(finals, 0)
    assert echo["consumers"] is None  # no --rabbitmq-management-url: unknown


async def test_forbidden_names_the_roles_needed(api: Api) -> None:
    resp = await api.get("/echo", api.keys.token(["nobody"]))
    assert resp.status == 403
    body = await resp.json()
    assert body["required_roles"] == sorted(
        {"system_admin", "system_writer", "queue_writer", "echo_writer", "tester"}
    )
    assert "tester" in body["detail"]
    fail = await api.push("fail", {"x": 1}, api.keys.token(["tester"]))
    await api.wait_final("fail", fail, api.keys.token(["tester"]))
    resp = await api.post(f"fail/{fail}/retry", None, api.keys.token(["tester"]))
    assert resp.status == 403
    assert (await resp.json())["required_roles"] == ["fail_admin", "system_admin"]


@pytest.fixture
async def management() -> AsyncIterator[tuple[FakeManagement, str]]:
    async with running_management() as running:
        yield running


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
