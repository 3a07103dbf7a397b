"""The seed's role rules, table-driven, on POST, GET and DELETE alike; where roles are read
from in a token; the seed's myQueue walkthrough; ``security: {mechanism: none}``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue, add_seed_queue
from tests.support.responses import error_list

QUEUE = "guarded"
#: Every role a test token may carry (None = a token without any roles claim).
CANDIDATES: tuple[str | None, ...] = (
    "system_admin",
    "system_writer",
    "queue_writer",
    f"{QUEUE}_writer",
    "custom",
    "other_writer",
    "Guarded_writer",
    "System_Admin",
    "unrelated",
    None,
)
EVERYONE = frozenset(CANDIDATES)
DEFAULTS = frozenset({"system_admin", "system_writer", "queue_writer", f"{QUEUE}_writer"})


@dataclass(frozen=True)
class Rule:
    """A ``roles`` block (None = omitted) and the candidates it must let in."""

    roles: dict[str, Any] | None
    allowed: frozenset[str | None]


RULES: dict[str, Rule] = {
    "omitted (defaults)": Rule(None, DEFAULTS),
    "empty block (defaults)": Rule({}, DEFAULTS),
    "needs+keep": Rule({"needsRole": True, "replace": False}, DEFAULTS),
    "needs+keep+custom": Rule(
        {"needsRole": True, "replace": False, "roles": ["custom"]}, DEFAULTS | {"custom"}
    ),
    "needs+replace": Rule({"needsRole": True, "replace": True}, frozenset({"system_admin"})),
    "needs+replace+custom": Rule(
        {"needsRole": True, "replace": True, "roles": ["custom"]},
        frozenset({"system_admin", "custom"}),
    ),
    "custom only (replace default false)": Rule({"roles": ["custom"]}, DEFAULTS | {"custom"}),
    "no-role+keep": Rule({"needsRole": False, "replace": False}, EVERYONE),
    "no-role+keep+custom": Rule(
        {"needsRole": False, "replace": False, "roles": ["custom"]}, EVERYONE
    ),
    "no-role+replace": Rule({"needsRole": False, "replace": True}, EVERYONE),
    "no-role+replace+custom": Rule(
        {"needsRole": False, "replace": True, "roles": ["custom"]}, EVERYONE
    ),
}


def token_for(api: Api, role: str | None) -> str:
    return api.keys.token(None if role is None else [role], sub=f"user-{role}")


async def check_allowed(api: Api, role: str | None) -> None:
    token = token_for(api, role)
    resp = await api.post(QUEUE, {"by": role}, token)
    assert resp.status == 201, f"{role}: POST {resp.status} {await resp.text()}"
    message_id = (await resp.json())["id"]
    got = await api.get(f"/{QUEUE}/{message_id}", token)
    assert got.status == 200, f"{role}: GET {got.status}"
    gone = await api.delete(f"/{QUEUE}/{message_id}", token)
    assert gone.status == 204, f"{role}: DELETE {gone.status}"


async def check_forbidden(api: Api, role: str | None, existing: str) -> None:
    token = token_for(api, role)
    errors = await error_list(await api.post(QUEUE, {"by": role}, token), 403)
    assert QUEUE in errors[0]
    await error_list(await api.get(f"/{QUEUE}/{existing}", token), 403)
    await error_list(await api.delete(f"/{QUEUE}/{existing}", token), 403)
    # the forbidden DELETE did not delete anything
    admin = api.keys.token(["system_admin"])
    assert (await api.get(f"/{QUEUE}/{existing}", admin)).status == 200


@pytest.mark.parametrize("rule", RULES.values(), ids=RULES.keys())
async def test_role_rules_guard_post_get_and_delete(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    rule: Rule,
) -> None:
    add_queue(queues_dir, QUEUE, roles=rule.roles)
    api = api_for(await start_conveyor())
    existing = await api.push(QUEUE, {"by": "admin"}, api.keys.token(["system_admin"]))

    for role in CANDIDATES:
        if role in rule.allowed:
            await check_allowed(api, role)
        else:
            await check_forbidden(api, role, existing)

    # whatever the rule, a token is always needed
    for method in ("POST", "GET", "DELETE"):
        path = f"/{QUEUE}" if method == "POST" else f"/{QUEUE}/{existing}"
        resp = await api.session.request(method, f"{api.base}{path}", json={})
        await error_list(resp, 401)


async def test_a_token_with_several_roles_needs_only_one_allowed(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_queue(queues_dir, QUEUE, roles={"replace": True, "roles": ["custom"]})
    api = api_for(await start_conveyor())
    mixed = api.keys.token(["unrelated", "queue_writer", "custom"])
    assert (await api.post(QUEUE, {}, mixed)).status == 201
    none_allowed = api.keys.token(["unrelated", "queue_writer", f"{QUEUE}_writer"])
    await error_list(await api.post(QUEUE, {}, none_allowed), 403)


async def test_forbidden_is_decided_before_the_body_is_validated(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_queue(queues_dir, QUEUE, schema={"type": "object", "required": ["x"]})
    api = api_for(await start_conveyor())
    await error_list(await api.post(QUEUE, {"no": "x"}, api.keys.token(["unrelated"])), 403)
    await error_list(await api.post(QUEUE, {"no": "x"}, api.keys.token(["queue_writer"])), 422)


# --- the seed's walkthrough ------------------------------------------------------------


async def test_seed_walkthrough_my_queue_replaces_default_roles(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_seed_queue(queues_dir)
    api = api_for(await start_conveyor())
    body = {"hello": "there", "world": "yes"}

    for role in ("one", "two", "system_admin"):
        token = api.keys.token([role])
        message_id = await api.push("myQueue", body, token)
        record = await api.wait_final("myQueue", message_id, token)
        assert record["status"] == "COMPLETE"
        assert record["result"] == {"result": "value"}

    for role in ("myQueue_writer", "queue_writer", "system_writer", "three"):
        errors = await error_list(await api.post("myQueue", body, api.keys.token([role])), 403)
        assert "myQueue" in errors[0]


# --- security: none ----------------------------------------------------------------------


async def test_security_none_needs_no_token(api: Api) -> None:
    resp = await api.post("open", {"anyone": True})
    assert resp.status == 201, await resp.text()
    message_id = (await resp.json())["id"]
    record = await api.wait_final("open", message_id, token="")
    assert record["status"] == "COMPLETE"
    assert record["result"] == {"ok": True}
    assert (await api.delete(f"/open/{message_id}")).status == 204
    assert (await api.get(f"/open/{message_id}")).status == 404
    # a schema still applies
    await error_list(await api.post("open", ["not", "an", "object"]), 422)


# --- where roles come from in a token ----------------------------------------------------


@pytest.mark.parametrize(
    "extra, status",
    [
        ({"roles": ["tester"]}, 201),
        ({"roles": "tester"}, 201),
        ({"roles": ["other", "tester"]}, 201),
        ({"role": "tester"}, 201),
        ({"role": ["tester"]}, 201),
        ({"roles": ["other"], "role": "tester"}, 201),
        ({"roles": "other tester"}, 403),
        ({"roles": ["Tester"]}, 403),
        ({"roles": {"tester": True}}, 403),
        ({"roles": [["tester"]]}, 403),
        ({"roles": []}, 403),
        ({}, 403),
        ({"realm_access": {"roles": ["tester"]}}, 403),
        ({"scope": "tester"}, 403),
    ],
    ids=[
        "roles-list",
        "roles-string",
        "roles-list-second",
        "role-string",
        "role-list",
        "roles-and-role-union",
        "space-separated-is-one-role",
        "case-sensitive",
        "roles-object",
        "roles-nested-list",
        "roles-empty",
        "no-claim",
        "realm-access-not-configured",
        "scope-is-not-roles",
    ],
)
async def test_roles_from_roles_or_role_claim(api: Api, extra: dict[str, Any], status: int) -> None:
    resp = await api.post("echo", {}, api.keys.token(None, extra=extra))
    if status == 403:
        await error_list(resp, 403)
    else:
        assert resp.status == status, await resp.text()


@pytest.mark.parametrize(
    "extra, status",
    [
        ({"realm_access": {"roles": ["offline_access", "tester"]}}, 201),
        ({"realm_access": {"roles": "tester"}}, 201),
        ({"realm_access": {"roles": ["offline_access"]}, "roles": ["tester"]}, 201),
        ({"realm_access": {"roles": ["offline_access"]}}, 403),
        ({"realm_access": ["tester"]}, 403),
        ({"realm_access": "tester"}, 403),
        ({"resource_access": {"roles": ["tester"]}}, 403),
    ],
    ids=[
        "nested-list",
        "nested-string",
        "plain-roles-still-read",
        "nested-without-role",
        "parent-is-list",
        "parent-is-string",
        "other-path",
    ],
)
async def test_roles_from_configured_dotted_claim(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    extra: dict[str, Any],
    status: int,
) -> None:
    api = api_for(await start_conveyor(roles_claim="realm_access.roles"))
    for alg in ("HS256", "RS256"):
        resp = await api.post("echo", {}, api.keys.token(None, alg=alg, extra=extra))
        if status == 403:
            await error_list(resp, 403)
        else:
            assert resp.status == status, await resp.text()
