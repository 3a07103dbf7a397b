"""Bulk actions through HTTP, in both modes: ``POST /{queue}/bulk/{action}`` redrives 1,000
ERROR messages at once, cancels and deletes by status and creation window, honours the
limit, reports what it skipped and why, and answers every bad input with a 4xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.responses import error_list
from tests.support.waiting import wait_until

ROLES = {"roles": ["tester"]}
#: Messages redriven at once. The MongoDB wire-protocol stand-in the distributed tests use
#: does about 100 operations a second (each message costs a claim and a final write, twice,
#: plus its redrive): with 1,000 its lease renewals time out and the test passes its
#: 120 s limit, so distributed mode redrives 300; embedded mode the full 1,000.
REDRIVEN = {"embedded": 1000, "distributed": 300}


@pytest.fixture
async def bapi(start_conveyor: StartConveyor, api_for: Any, queues_dir: Path) -> Api:
    add_queue(queues_dir, "failonce", handler="failonce", roles=ROLES)
    add_queue(queues_dir, "spanlog", handler="spanlog", roles=ROLES)
    api: Api = api_for(await start_conveyor())
    return api


async def bulk(
    api: Api, queue: str, action: str, body: Any, token: str | None, **kw: Any
) -> aiohttp.ClientResponse:
    headers = {**api.auth(token), "Content-Type": "application/json"}
    resp = await api.session.post(
        f"{api.base}/{queue}/bulk/{action}", data=json.dumps(body), headers=headers, **kw
    )
    await resp.read()
    return resp


async def counts(api: Api, queue: str) -> dict[str, int]:
    resp = await api.get("/queues", api.keys.token(["system_admin"]))
    (summary,) = [q for q in (await resp.json())["queues"] if q["name"] == queue]
    found: dict[str, int] = summary["messages"]
    return found


async def push_batch(api: Api, queue: str, bodies: list[Any], token: str, **kw: Any) -> list[str]:
    resp = await api.session.post(
        f"{api.base}/{queue}/batch", json=bodies, headers=api.auth(token), **kw
    )
    assert resp.status == 207, await resp.text()
    items = (await resp.json())["items"]
    assert {item["status"] for item in items} == {201}
    return [str(item["id"]) for item in items]


async def test_error_messages_redriven_at_once(bapi: Api, tmp_path: Path, mode: str) -> None:
    count = REDRIVEN[mode]
    token, admin = bapi.keys.token(["tester"]), bapi.keys.token(["system_admin"])
    ok = tmp_path / "ok"
    bodies = [{"ok": str(ok), "n": i} for i in range(count)]
    ids: list[str] = []
    for start in range(0, count, 100):  # batches of 100: the stand-in times out on more
        ids += await push_batch(bapi, "failonce", bodies[start : start + 100], token)

    async def all_in(status: str) -> bool:
        return (await counts(bapi, "failonce")).get(status) == count

    await wait_until(lambda: all_in("ERROR"), f"{count} messages to fail", 120)
    ok.write_text("now it works\n")
    resp = await bulk(bapi, "failonce", "retry", {"status": "ERROR", "limit": 10_000}, admin)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert sorted(answer["acted"]) == sorted(ids) and answer["skipped"] == []
    await wait_until(lambda: all_in("COMPLETE"), f"{count} redriven messages to complete", 180)
    one = await (await bapi.get(f"/failonce/{ids[0]}", token)).json()
    assert (one["attempts"], one["result"]) == (1, {"n": 0})  # a new run from scratch
    again = await bulk(bapi, "failonce", "retry", {"status": "ERROR", "limit": 10}, admin)
    assert await again.json() == {"acted": [], "skipped": []}


async def test_bulk_cancel_acts_on_waiting_messages_and_says_why_it_skipped_others(
    bapi: Api, tmp_path: Path
) -> None:
    token, admin = bapi.keys.token(["tester"]), bapi.keys.token(["system_admin"])
    done = await bapi.push("spanlog", {"log": str(tmp_path / "l")}, token)
    await bapi.wait_final("spanlog", done, token)
    delayed = await push_batch(
        bapi, "spanlog", [{"log": str(tmp_path / "l")}] * 3, token, params={"delay": "30"}
    )
    resp = await bulk(bapi, "spanlog", "cancel", {"limit": 10}, admin)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert sorted(answer["acted"]) == sorted(delayed)
    ((skipped_id, reason),) = [(s["id"], s["reason"]) for s in answer["skipped"]]
    assert skipped_id == done and "COMPLETE" in reason
    assert (await counts(bapi, "spanlog"))["CANCELLED"] == 3
    retried = await bulk(bapi, "spanlog", "retry", {"status": "CANCELLED", "limit": 10}, admin)
    answer = await retried.json()  # a CANCELLED message cannot be redriven
    assert answer["acted"] == [] and len(answer["skipped"]) == 3
    assert all("CANCELLED" in s["reason"] for s in answer["skipped"])


async def test_bulk_delete_by_creation_window_and_limit(bapi: Api) -> None:
    token, admin = bapi.keys.token(["tester"]), bapi.keys.token(["system_admin"])
    records = []
    for n in range(5):
        resp = await bapi.post("echo", {"n": n}, token)
        records.append(await resp.json())
        await bapi.wait_final("echo", records[-1]["id"], token)
    window = {
        "created_after": records[0]["created_at"],
        "created_before": records[4]["created_at"],
        "status": "COMPLETE",
    }
    two = await bulk(bapi, "echo", "delete", {**window, "limit": 2}, admin)
    assert (await two.json())["acted"] == [records[3]["id"], records[2]["id"]]  # newest first
    rest = await bulk(bapi, "echo", "delete", {**window, "limit": 100}, admin)
    assert (await rest.json()) == {"acted": [records[1]["id"]], "skipped": []}
    left = await bapi.get("/echo", token)
    assert [r["id"] for r in (await left.json())["items"]] == [records[4]["id"], records[0]["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"limit": 0},
        {"limit": 10_001},
        {"limit": "10"},
        {"limit": True},
        {"limit": 1.5},
        {"limit": 5, "status": "DONE"},
        {"limit": 5, "created_before": "yesterday"},
        {"limit": 5, "created_after": "2026-01-01T00:00:00"},
        {"limit": 5, "created_before": 17},
        {
            "limit": 5,
            "created_after": "2026-01-02T00:00:00Z",
            "created_before": "2026-01-01T00:00:00Z",
        },
        {"limit": 5, "extra": 1},
        [],
        "all",
        None,
    ],
)
async def test_bad_bulk_bodies_are_422(bapi: Api, body: Any) -> None:
    admin = bapi.keys.token(["system_admin"])
    await error_list(await bulk(bapi, "echo", "delete", body, admin), 422)


async def test_other_bad_bulk_requests(bapi: Api) -> None:
    admin = bapi.keys.token(["system_admin"])
    body = {"limit": 5}
    problems = await error_list(await bulk(bapi, "echo", "purge", body, admin), 404)
    assert "cancel, retry, delete" in problems[0]
    await error_list(await bulk(bapi, "nosuchqueue", "delete", body, admin), 404)
    raw = await bapi.session.post(
        f"{bapi.base}/echo/bulk/delete",
        data=b"{not json",
        headers={**bapi.auth(admin), "Content-Type": "application/json"},
    )
    await error_list(raw, 400)
    text = await bapi.session.post(
        f"{bapi.base}/echo/bulk/delete", data=b"limit=5", headers=bapi.auth(admin)
    )
    await error_list(text, 415)
    await error_list(await bulk(bapi, "echo", "delete", body, None), 401)
    writer = bapi.keys.token(["tester", "system_writer"])  # may use the queue, not bulk
    await error_list(await bulk(bapi, "echo", "delete", body, writer), 403)
    owner = bapi.keys.token(["echo_admin"])
    assert (await bulk(bapi, "echo", "delete", body, owner)).status == 200
    assert (await bulk(bapi, "echo", "delete", {"limit": 5.0}, owner)).status == 200
