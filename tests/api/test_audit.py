"""The audit log through HTTP, in both modes: each operator action (redrive, bulk cancel,
retry and delete, an admin's cancel and delete) is one entry with the token's subject, the
action, the queue, the target and the count, while a writer's own cancel or delete is none;
``GET /audit`` answers admins only (every entry for system_admin, a queue's for its admin),
newest first, a page at a time, and a bad ``limit``/``cursor``/``queue`` with a 400."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from shared.domain.audit_entry import AuditAction
from tests.support.api_client import Api
from tests.support.responses import error_list

WRITER = ["tester"]


async def audit(api: Api, token: str | None, query: str = "") -> aiohttp.ClientResponse:
    return await api.get(f"/audit{query}", token)


async def entries(api: Api, token: str, query: str = "") -> list[dict[str, Any]]:
    resp = await audit(api, token, query)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert set(body) == {"items", "next_cursor"}
    items: list[dict[str, Any]] = body["items"]
    return items


def seen(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each entry without its time, in a fixed order: two actions recorded in one
    millisecond are in either order (their ids decide; the contract tests check that)."""
    for item in items:
        assert set(item) == {"at", "subject", "action", "queue", "target", "count"}, item
        assert item["at"].endswith("Z")
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    return sorted(
        ((i["subject"], i["action"], i["queue"], i["target"], i["count"]) for i in items), key=repr
    )


async def post(api: Api, path: str, token: str | None, body: Any = None) -> Any:
    headers = {**api.auth(token), "Content-Type": "application/json"}
    data = None if body is None else json.dumps(body)
    resp = await api.session.post(f"{api.base}{path}", data=data, headers=headers)
    assert resp.status in (200, 202), await resp.text()
    return await resp.json()


async def delayed(api: Api, queue: str, token: str | None) -> str:
    """A message that waits (PENDING for a minute), so it can be cancelled or deleted."""
    resp = await api.post(queue, {}, token, params={"delay": "60"})
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def test_each_operator_action_is_one_entry(api: Api) -> None:
    writer = api.keys.token(WRITER)
    alice = api.keys.token(["fail_admin", "tester"], sub="alice")  # cancel needs a writer role
    root = api.keys.token(["system_admin"], sub="root")
    failed = await api.push("fail", {"n": 1}, writer)
    await api.wait_final("fail", failed, writer)
    await post(api, f"/fail/{failed}/retry", alice)
    await api.wait_final("fail", failed, writer)
    where = {"status": "ERROR", "created_after": "2000-01-01T00:00:00Z", "limit": 5}
    assert (await post(api, "/fail/bulk/retry", root, where))["acted"] == [failed]

    mine, theirs = await delayed(api, "fail", writer), await delayed(api, "fail", writer)
    await post(api, f"/fail/{mine}/cancel", writer)  # a writer's own: not audited
    await post(api, f"/fail/{theirs}/cancel", alice)
    assert (await api.delete(f"/fail/{mine}", writer)).status == 204  # not audited
    assert (await api.delete(f"/fail/{theirs}", root)).status == 204
    assert (await api.delete(f"/fail/{theirs}", root)).status == 404  # nothing done: none

    bulk_filter = {"status": "ERROR", "created_before": None, "where": None, "limit": 5}
    bulk_filter["created_after"] = "2000-01-01T00:00:00.000Z"
    assert seen(await entries(api, root)) == sorted(
        [
            ("root", "delete", "fail", theirs, 1),
            ("alice", "cancel", "fail", theirs, 1),
            ("root", "bulk_retry", "fail", bulk_filter, 1),
            ("alice", "redrive", "fail", failed, 1),
        ],
        key=repr,
    )


async def test_bulk_actions_on_a_queue_with_auth_off_have_no_subject(api: Api) -> None:
    ids = [await delayed(api, "open", None) for _ in range(3)]
    cancelled = await post(api, "/open/bulk/cancel", None, {"limit": 2})
    assert len(cancelled["acted"]) == 2
    deleted = await post(api, "/open/bulk/delete", None, {"status": "CANCELLED", "limit": 9})
    assert sorted(deleted["acted"]) == sorted(cancelled["acted"])
    await post(api, f"/open/{ids[0]}/cancel", None)  # anyone may, and no admin: not audited
    any_filter = {"status": None, "created_before": None, "created_after": None, "where": None}
    assert seen(await entries(api, api.keys.token(["open_admin"]))) == sorted(
        [
            (None, "bulk_delete", "open", {**any_filter, "status": "CANCELLED", "limit": 9}, 2),
            (None, "bulk_cancel", "open", {**any_filter, "limit": 2}, 2),
        ],
        key=repr,
    )


async def record(api: Api, queue: str, n: int) -> None:
    """``n`` entries of ``queue`` through the running Conveyor's own hook (what pause and
    resume call), so that paging has something to page through quickly."""
    assert api.served is not None
    for i in range(n):
        await api.served.runtime.audit.record(f"op{i}", AuditAction.PAUSE, queue, None, i)


async def test_who_may_read_which_entries(api: Api) -> None:
    await record(api, "echo", 1)
    await record(api, "fail", 1)
    await record(api, "gone", 1)  # a queue no longer loaded: its admin still reads it
    assert (await audit(api, None)).status == 401
    roles = await error_list(await audit(api, api.keys.token(WRITER)), 403)
    assert roles
    writer_403 = await (await audit(api, api.keys.token(WRITER))).json()
    assert writer_403["required_roles"] == ["<queue>_admin", "system_admin"]
    fail_admin = api.keys.token(["fail_admin", "tester"])
    other = await audit(api, fail_admin, "?queue=echo")
    await error_list(other, 403)
    assert (await other.json())["required_roles"] == ["echo_admin", "system_admin"]

    def queues(items: list[dict[str, Any]]) -> list[str]:
        return sorted(i["queue"] for i in items)  # entries of one millisecond: any order

    assert queues(await entries(api, fail_admin)) == ["fail"]
    assert queues(await entries(api, fail_admin, "?queue=fail")) == ["fail"]
    both = api.keys.token(["fail_admin", "gone_admin"])
    assert queues(await entries(api, both)) == ["fail", "gone"]
    root = api.keys.token(["system_admin"])
    assert queues(await entries(api, root)) == ["echo", "fail", "gone"]
    assert queues(await entries(api, root, "?queue=echo")) == ["echo"]
    assert await entries(api, root, "?queue=nothing-here") == []


async def test_pages_newest_first_until_next_cursor_is_null(api: Api) -> None:
    await record(api, "echo", 7)
    await record(api, "fail", 2)
    root = api.keys.token(["system_admin"])
    shown: list[dict[str, Any]] = []
    query, pages = "?queue=echo&limit=3", 0
    while True:
        resp = await audit(api, root, query)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        shown += body["items"]
        pages += 1
        if body["next_cursor"] is None:
            break
        query = f"?queue=echo&limit=3&cursor={body['next_cursor']}"
    assert pages == 3
    # Every entry once (entries of one millisecond are ordered by their random id).
    assert sorted(item["subject"] for item in shown) == [f"op{i}" for i in range(7)]
    times = [item["at"] for item in shown]
    assert times == sorted(times, reverse=True)
    assert len(await entries(api, root)) == 9  # the default limit covers them all


async def test_bad_parameters_are_400_problems(api: Api) -> None:
    root = api.keys.token(["system_admin"])
    for query in ("?limit=0", "?limit=201", "?limit=ten", "?cursor=not-a-cursor", "?queue="):
        await error_list(await audit(api, root, query), 400)


async def test_the_endpoint_is_in_the_openapi_document(api: Api) -> None:
    resp = await api.get("/openapi.json", api.keys.token(["system_admin"]))
    assert resp.status == 200
    operation = (await resp.json())["paths"]["/audit"]["get"]
    assert operation["x-roles"] == ["system_admin", "<queue>_admin"]
    assert {p["name"] for p in operation["parameters"]} == {"queue", "limit", "cursor"}
