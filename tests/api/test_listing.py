"""``GET /{queue}?status=&limit=&cursor=`` (newest first, cursor pagination) and
``result_ttl_seconds`` (final messages disappear), through the HTTP API."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_wait_queues
from tests.support.responses import assert_record, error_list, parse_ts
from tests.support.waiting import wait_until


@pytest.fixture
async def wapi(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    """A started Conveyor with the tests/fixtures/queues/wait queues, and a client for it."""
    add_wait_queues(queues_dir)
    return api_for(await start_conveyor())


async def list_all(api: Api, query: str, token: str) -> tuple[list[dict[str, Any]], int]:
    """Follow ``next_cursor`` from the first page; every item and the number of pages."""
    items: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        url = f"/waitlist?{query}" + (f"&cursor={cursor}" if cursor else "")
        resp = await api.get(url, token)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert set(body) == {"items", "next_cursor"}
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages
        assert isinstance(cursor, str)


async def test_listing_is_newest_first_and_pages_with_a_cursor(wapi: Api, mode: str) -> None:
    token = wapi.keys.token(["lister"])
    pushed = [await wapi.push("waitlist", {"n": n}, token) for n in range(7)]
    items, pages = await list_all(wapi, "limit=3", token)
    assert pages == 3
    assert sorted(r["id"] for r in items) == sorted(pushed)
    for item in items:
        assert_record(item, "waitlist")
    # Newest first: created_at descending (milliseconds, in every store), then id descending.
    by_created = {r["id"]: parse_ts(r["created_at"]) for r in items}
    expected = sorted(pushed, key=lambda i: (by_created[i], i), reverse=True)
    assert [r["id"] for r in items] == expected
    one, _ = await list_all(wapi, "limit=200", token)
    assert [r["id"] for r in one] == [r["id"] for r in items]


async def test_listing_defaults_to_50(wapi: Api) -> None:
    token = wapi.keys.token(["lister"])
    for n in range(52):
        await wapi.push("waitlist", {"n": n}, token)
    resp = await wapi.get("/waitlist", token)
    assert resp.status == 200
    body = await resp.json()
    assert len(body["items"]) == 50
    assert body["next_cursor"] is not None
    rest = await wapi.get(f"/waitlist?cursor={body['next_cursor']}", token)
    assert len((await rest.json())["items"]) == 2


async def test_listing_filters_by_status(wapi: Api) -> None:
    token = wapi.keys.token(["lister"])
    failing = [await wapi.push("waitlist", {"fail": True}, token) for _ in range(3)]
    passing = [await wapi.push("waitlist", {}, token) for _ in range(2)]
    for message_id in failing + passing:
        await wapi.wait_final("waitlist", message_id, token)
    errors, _ = await list_all(wapi, "status=ERROR&limit=2", token)
    assert sorted(r["id"] for r in errors) == sorted(failing)
    assert {r["status"] for r in errors} == {"ERROR"}
    complete, _ = await list_all(wapi, "status=COMPLETE", token)
    assert sorted(r["id"] for r in complete) == sorted(passing)
    pending, pages = await list_all(wapi, "status=PENDING", token)
    assert (pending, pages) == ([], 1)


async def test_listing_only_shows_its_own_queue(wapi: Api) -> None:
    await wapi.push("waithold", {}, wapi.keys.token(["tester"]))
    token = wapi.keys.token(["lister"])
    mine = await wapi.push("waitlist", {}, token)
    items, _ = await list_all(wapi, "limit=10", token)
    assert [r["id"] for r in items] == [mine]


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("status=DONE", "status"),
        ("status=error", "status"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=" + base64.urlsafe_b64encode(b'{"id": 1}').decode(), "cursor"),
        (
            "cursor=" + base64.urlsafe_b64encode(b'{"created_at": "x", "id": "a"}').decode(),
            "cursor",
        ),
        ("cursor=" + base64.urlsafe_b64encode(b"[1, 2]").decode(), "cursor"),
    ],
)
async def test_bad_listing_parameters_answer_400(wapi: Api, query: str, word: str) -> None:
    errors = await error_list(
        await wapi.get(f"/waitlist?{query}", wapi.keys.token(["lister"])), 400
    )
    assert word in str(errors[0])


async def test_listing_has_the_queue_roles(wapi: Api) -> None:
    await error_list(await wapi.get("/waitlist", wapi.keys.token(["tester"])), 403)
    await error_list(await wapi.get("/waitlist"), 401)
    await error_list(await wapi.get("/nosuchqueue", wapi.keys.token(["lister"])), 404)
    assert (await wapi.get("/waitlist", wapi.keys.token(["lister"]))).status == 200
    assert (await wapi.get("/waitlist", wapi.keys.token(["system_admin"]))).status == 200


async def test_fixed_paths_still_win_over_the_listing(wapi: Api) -> None:
    assert (await wapi.get("/healthz")).status == 200
    resp = await wapi.get("/queues", wapi.keys.token(["system_admin"]))
    assert resp.status == 200, await resp.text()
    assert "items" not in await resp.json()  # the admin summary, not a listing


@pytest.mark.parametrize("mode", ["embedded"], indirect=True)
async def test_final_messages_disappear_after_result_ttl_seconds(wapi: Api) -> None:
    token = wapi.keys.token(["tester"])
    kept = await wapi.push("waithold", {}, token)  # its queue has no TTL
    message_id = await wapi.push("waitttl", {}, token)
    assert (await wapi.wait_final("waitttl", message_id, token))["status"] == "COMPLETE"
    await wapi.wait_final("waithold", kept, token)
    statuses: list[int] = []

    async def gone() -> bool:
        statuses.append((await wapi.get(f"/waitttl/{message_id}", token)).status)
        return statuses[-1] != 200

    # result_ttl_seconds is 1; the sweep runs every 2 s
    await wait_until(gone, "the expired message to disappear", interval=0.2)
    assert statuses[-1] == 404, statuses
    assert (await wapi.get(f"/waithold/{kept}", token)).status == 200
