"""Search on message bodies through HTTP, in both modes: ``GET /{queue}?where=field:value``
on fields the schema marks ``"x-conveyor-index": true`` (hits, misses, status, limit and
cursor), 400 for an unknown, unindexed or malformed term, 409 while a field added by a hot
reload has its index built, and bulk actions with ``where`` and ``dry_run``."""

from __future__ import annotations

import asyncio
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
MARK = {"x-conveyor-index": True}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "customer": {"type": "string", **MARK},
        "priority": {"type": "integer", **MARK},
        "urgent": {"type": "boolean", **MARK},
        "note": {"type": "string"},
    },
}


@pytest.fixture
async def sapi(start_conveyor: StartConveyor, api_for: Any, queues_dir: Path) -> Api:
    add_queue(queues_dir, "orders", handler="echo", roles=ROLES, schema=SCHEMA)
    api: Api = api_for(await start_conveyor(reload_interval_seconds=0))
    return api


async def search(api: Api, query: str, token: str) -> dict[str, Any]:
    """``GET /orders?{query}`` once every index is built (409 until then); the page."""

    async def page() -> dict[str, Any] | None:
        resp = await api.get(f"/orders?{query}", token)
        if resp.status == 409:
            return None
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    found: dict[str, Any] = await wait_until(page, f"/orders?{query} to answer 200")
    return found


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def push_orders(api: Api, token: str) -> dict[str, str]:
    bodies = {
        "a1": {"customer": "acme", "priority": 1, "urgent": True},
        "a2": {"customer": "acme", "priority": 2, "urgent": False},
        "a3": {"customer": "acme", "priority": -3, "urgent": True, "note": "x"},
        "b1": {"customer": "bolt", "priority": 1, "urgent": True},
        "c1": {"note": "acme"},
    }
    return {name: await api.push("orders", body, token) for name, body in bodies.items()}


async def test_where_finds_exactly_the_matching_messages(sapi: Api) -> None:
    token = sapi.keys.token(["tester"])
    m = await push_orders(sapi, token)

    def newest_first(*names: str) -> list[str]:
        return [m[n] for n in reversed(names)]

    assert ids(await search(sapi, "where=customer:acme", token)) == newest_first("a1", "a2", "a3")
    assert ids(await search(sapi, "where=urgent:true", token)) == newest_first("a1", "a3", "b1")
    assert ids(await search(sapi, "where=priority:-3", token)) == newest_first("a3")
    both = "where=customer:acme&where=urgent:true"
    assert ids(await search(sapi, both, token)) == newest_first("a1", "a3")
    misses = ("customer:ACME", "customer:nobody", "priority:7", "customer:acme&where=priority:9")
    for miss in misses:
        assert ids(await search(sapi, f"where={miss}", token)) == [], miss
    # The value is everything after the first colon, URL-encoded like any query value.
    assert ids(await search(sapi, "where=customer%3Aac%3Ame", token)) == []
    # limit and cursor page through the hits; status narrows them.
    first = await search(sapi, "where=customer:acme&limit=2", token)
    assert ids(first) == newest_first("a2", "a3")
    rest = await search(sapi, f"where=customer:acme&limit=2&cursor={first['next_cursor']}", token)
    assert ids(rest) == [m["a1"]] and rest["next_cursor"] is None
    for message_id in m.values():
        await sapi.wait_final("orders", message_id, token)
    done = await search(sapi, "where=customer:acme&status=COMPLETE", token)
    assert ids(done) == newest_first("a1", "a2", "a3")
    assert ids(await search(sapi, "where=customer:acme&status=PENDING", token)) == []


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("where=nope:1", "'nope': not an indexed field of this queue"),
        ("where=note:x", "'note': not an indexed field of this queue"),
        ("where=customer", "where must be field:value"),
        ("where=:acme", "where must be field:value"),
        ("where=priority:high", "where priority: must be a plain integer"),
        ("where=priority:1.0", "where priority: must be a plain integer"),
        ("where=urgent:yes", "where urgent: must be true or false"),
        ("where=customer:a&where=nope:2", "'nope'"),
        ("&".join(["where=priority:1"] * 9), "at most 8 terms"),
    ],
)
async def test_bad_terms_are_400_naming_them(sapi: Api, where: str, says: str) -> None:
    resp = await sapi.get(f"/orders?{where}", sapi.keys.token(["tester"]))
    (message,) = await error_list(resp, 400)
    assert says in message


async def test_a_field_marked_by_a_reload_answers_409_until_its_index_is_built(
    sapi: Api, queues_dir: Path
) -> None:
    token = sapi.keys.token(["tester"])
    mine = await sapi.push("orders", {"customer": "acme", "note": "red"}, token)
    await search(sapi, "where=customer:acme", token)  # the start's indexes are built
    assert sapi.served is not None
    indexes = sapi.served.runtime.messaging.indexes
    assert indexes is not None
    release, held = asyncio.Event(), asyncio.Event()

    async def hold(queue: str, field: str) -> None:
        held.set()
        await release.wait()

    indexes.hold = hold
    schema = json.loads(json.dumps(SCHEMA))
    schema["properties"]["note"] |= MARK
    add_queue(queues_dir, "orders", handler="echo", roles=ROLES, schema=schema)
    report = await sapi.served.reloader.reload(force=True)
    assert report is not None and "orders" in report.changed
    await wait_until(held.is_set, "the build of note to start")
    resp = await sapi.get("/orders?where=note:red", token)
    (message,) = await error_list(resp, 409)
    assert resp.headers["Retry-After"] == "1"
    assert "the index on note of queue 'orders' is being built" in message
    # The other fields' indexes stay usable meanwhile.
    assert ids(await search(sapi, "where=customer:acme", token)) == [mine]
    release.set()
    assert ids(await search(sapi, "where=note:red", token)) == [mine]


async def bulk(api: Api, action: str, body: Any, token: str) -> aiohttp.ClientResponse:
    headers = {**api.auth(token), "Content-Type": "application/json"}
    resp = await api.session.post(
        f"{api.base}/orders/bulk/{action}", data=json.dumps(body), headers=headers
    )
    await resp.read()
    return resp


async def test_bulk_takes_where_and_a_dry_run_counts(sapi: Api) -> None:
    token, admin = sapi.keys.token(["tester"]), sapi.keys.token(["system_admin"])
    m = await push_orders(sapi, token)
    await search(sapi, "where=customer:acme", token)  # indexes built

    async def dry(body: dict[str, Any]) -> int:
        resp = await bulk(sapi, "delete", {**body, "dry_run": True}, admin)
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        assert set(answer) == {"count"}
        return int(answer["count"])

    assert await dry({"limit": 100, "where": ["customer:acme"]}) == 3
    assert await dry({"limit": 2, "where": ["customer:acme"]}) == 2
    assert await dry({"limit": 100, "where": ["customer:acme", "urgent:true"]}) == 2
    assert await dry({"limit": 100, "where": ["customer:nobody"]}) == 0
    assert await dry({"limit": 100}) == 5
    assert await dry({"limit": 100, "where": ["urgent:true"], "status": "CANCELLED"}) == 0
    assert len(ids(await search(sapi, "limit=200", token))) == 5  # a dry run changes nothing
    resp = await bulk(sapi, "delete", {"limit": 100, "where": ["urgent:true"]}, admin)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert sorted(answer["acted"]) == sorted([m["a1"], m["a3"], m["b1"]])
    assert answer["skipped"] == []
    left = ids(await search(sapi, "limit=200", token))
    assert sorted(left) == sorted([m["a2"], m["c1"]])
    # The audit log names the terms; the dry runs, which changed nothing, are not in it.
    entries = (await (await sapi.get("/audit?queue=orders", admin)).json())["items"]
    assert [(e["action"], e["target"]["where"], e["count"]) for e in entries] == [
        ("bulk_delete", "urgent:true", 3)
    ]


async def test_bulk_where_problems_are_422_with_their_path(sapi: Api) -> None:
    admin = sapi.keys.token(["system_admin"])
    body = {"limit": 5, "where": ["customer:a", "nope:1", "urgent:maybe"], "dry_run": True}
    problems = await error_list(await bulk(sapi, "cancel", body, admin), 422)
    assert [p["path"] for p in problems] == ["$.where[1]", "$.where[2]"]
    assert "'nope': not an indexed field" in problems[0]["message"]
    for bad in ({"limit": 5, "where": "customer:a"}, {"limit": 5, "dry_run": "yes"}):
        await error_list(await bulk(sapi, "cancel", bad, admin), 422)
