"""What a handler gets as ``ctx``: the message's identity, ``ctx.messaging`` (validated like
HTTP), ``ctx.services`` from ``services.py``, ``ctx.auth`` (OAuth2 client credentials)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.identity import TokenEndpoint
from tests.support.queues import add_queue, add_seed_queue, copy_handler
from tests.support.responses import RECORD_FIELDS, assert_record, error_list


async def test_ctx_identifies_the_message(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {"who": "me"}, token)
    record = await api.wait_final("echo", message_id, token)
    result = record["result"]
    assert result["id"] == message_id == record["id"]
    assert result["queue"] == "echo"
    assert result["attempt"] == 1
    assert record["attempts"] == 1


# --- ctx.messaging -----------------------------------------------------------------------


@pytest.fixture
async def pusher_api(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    add_queue(queues_dir, "pusher", handler="pusher", roles={"roles": ["tester"]})
    add_seed_queue(queues_dir)
    return api_for(await start_conveyor())


async def run_pusher(api: Api, message: dict[str, Any]) -> dict[str, Any]:
    token = api.keys.token(["tester"])
    return await api.wait_final("pusher", await api.push("pusher", message, token), token)


async def test_ctx_messaging_push_delivers_to_another_queue(pusher_api: Api) -> None:
    api = pusher_api
    record = await run_pusher(api, {"op": "push", "queue": "echo", "body": {"from": "handler"}})
    assert record["status"] == "COMPLETE", record
    pushed = record["result"]["pushed"]
    assert set(pushed) == RECORD_FIELDS
    assert_record(pushed, "echo")
    assert pushed["status"] == "PENDING"
    assert pushed["request"] == {"from": "handler"}

    token = api.keys.token(["tester"])
    echoed = await api.wait_final("echo", pushed["id"], token)
    assert echoed["status"] == "COMPLETE"
    assert echoed["result"]["echo"] == {"from": "handler"}
    assert echoed["result"]["id"] == pushed["id"]


async def test_ctx_messaging_push_is_validated_like_http(pusher_api: Api) -> None:
    api = pusher_api
    bad = {"world": 5, "extra": True}
    http_errors = await error_list(await api.post("myQueue", bad, api.keys.token(["one"])), 422)
    record = await run_pusher(api, {"op": "push", "queue": "myQueue", "body": bad})
    assert record["status"] == "COMPLETE", record
    assert record["result"] == {"rejected": http_errors}

    good = await run_pusher(api, {"op": "push", "queue": "myQueue", "body": {"hello": "x"}})
    pushed = good["result"]["pushed"]
    final = await api.wait_final("myQueue", pushed["id"], api.keys.token(["one"]))
    assert final["result"] == {"result": "value"}


async def test_ctx_messaging_push_to_unknown_queue_fails_the_handler(pusher_api: Api) -> None:
    record = await run_pusher(pusher_api, {"op": "push", "queue": "nowhere", "body": {}})
    assert record["status"] == "ERROR"
    assert record["error"]["type"] == "UnknownQueue"
    assert "nowhere" in record["error"]["message"]


async def test_ctx_messaging_get_and_delete(pusher_api: Api) -> None:
    api = pusher_api
    token = api.keys.token(["tester"])
    target = await api.push("echo", {"target": True}, token)
    over_http = await api.wait_final("echo", target, token)

    got = await run_pusher(api, {"op": "get", "queue": "echo", "id": target})
    assert got["result"] == {"record": over_http}

    deleted = await run_pusher(api, {"op": "delete", "queue": "echo", "id": target})
    assert deleted["result"] == {"deleted": True}
    await error_list(await api.get(f"/echo/{target}", token), 404)

    again = await run_pusher(api, {"op": "delete", "queue": "echo", "id": target})
    assert again["result"] == {"deleted": False}
    missing = await run_pusher(api, {"op": "get", "queue": "echo", "id": target})
    assert missing["result"] == {"record": None}


async def test_ctx_messaging_push_with_an_idempotency_key_makes_one_message(
    pusher_api: Api,
) -> None:
    api = pusher_api
    push = {"op": "push", "queue": "echo", "body": {"n": 1}, "key": "once-1"}
    first = (await run_pusher(api, push))["result"]["pushed"]
    second = (await run_pusher(api, push))["result"]["pushed"]
    assert second["id"] == first["id"]
    other = await run_pusher(api, {**push, "key": "once-2"})
    assert other["result"]["pushed"]["id"] != first["id"]
    reused = await run_pusher(api, {**push, "body": {"n": 2}})
    assert reused["status"] == "ERROR"
    assert reused["error"]["type"] == "KeyReused"


async def test_ctx_messaging_get_can_wait_for_the_final_status(pusher_api: Api) -> None:
    api = pusher_api
    target = await api.push("echo", {"waited": True}, api.keys.token(["tester"]))
    got = await run_pusher(api, {"op": "get", "queue": "echo", "id": target, "wait": 10})
    assert got["result"]["record"]["status"] == "COMPLETE"


async def test_ctx_messaging_redrive(pusher_api: Api) -> None:
    api = pusher_api
    token = api.keys.token(["tester"])
    failed = await api.push("fail", {"x": 1}, token)
    assert (await api.wait_final("fail", failed, token))["status"] == "ERROR"
    redriven = await run_pusher(api, {"op": "redrive", "queue": "fail", "id": failed})
    assert redriven["result"]["redriven"]["status"] == "PENDING"
    assert redriven["result"]["redriven"]["attempts"] == 0
    assert (await api.wait_final("fail", failed, token))["attempts"] == 1  # ran again

    done = await api.push("echo", {}, token)
    await api.wait_final("echo", done, token)
    refused = await run_pusher(api, {"op": "redrive", "queue": "echo", "id": done})
    assert "only ERROR messages can be retried" in refused["result"]["conflict"]


# --- ctx.services ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "services_module, greeting, answer",
    [("services_sync", "Hello", 42), ("services_async", "Bonjour", 43)],
)
async def test_ctx_services_come_from_services_py(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    services_module: str,
    greeting: str,
    answer: int,
) -> None:
    copy_handler(services_module, queues_dir / "services.py")
    add_queue(queues_dir, "greet", handler="useservices", roles={"roles": ["tester"]})
    api = api_for(await start_conveyor())
    token = api.keys.token(["tester"])
    record = await api.wait_final("greet", await api.push("greet", {"name": "Ada"}, token), token)
    assert record["status"] == "COMPLETE", record
    assert record["result"] == {
        "greeting": f"{greeting}, Ada!",
        "answer": answer,
        "services": ["answer", "greeter"],
    }


# --- ctx.auth ----------------------------------------------------------------------------

CLIENT_ID = "svc-client"
CLIENT_SECRET = "s3cret-value"


@pytest.fixture
async def token_endpoint() -> AsyncIterator[TokenEndpoint]:
    endpoint = TokenEndpoint({CLIENT_ID: CLIENT_SECRET})
    async with endpoint.running():
        yield endpoint


@pytest.fixture
async def auth_api(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    token_endpoint: TokenEndpoint,
) -> Api:
    roles = {"roles": ["tester"]}
    add_queue(queues_dir, "withauth", handler="clientauth", roles=roles, client_id=CLIENT_ID)
    add_queue(queues_dir, "nosecret", handler="clientauth", roles=roles, client_id="other.app")
    add_queue(queues_dir, "noclient", handler="clientauth", roles=roles)
    add_queue(queues_dir, "badsecret", handler="clientauth", roles=roles, client_id="wrong")
    served = await start_conveyor(
        token_url=token_endpoint.url,
        client_secrets={
            "CONVEYOR_CLIENT_SECRET_SVC_CLIENT": CLIENT_SECRET,
            "CONVEYOR_CLIENT_SECRET_WRONG": "not-the-secret",
        },
    )
    return api_for(served)


async def test_ctx_auth_fetches_a_client_credentials_token_once(
    auth_api: Api, token_endpoint: TokenEndpoint
) -> None:
    api = auth_api
    token = api.keys.token(["tester"])
    first, second = await asyncio.gather(
        api.push("withauth", {"n": 1}, token), api.push("withauth", {"n": 2}, token)
    )
    third = await api.push("withauth", {"n": 3}, token)
    records = [await api.wait_final("withauth", m, token) for m in (first, second, third)]

    assert [r["status"] for r in records] == ["COMPLETE"] * 3, records
    expected = {"token": f"access-{CLIENT_ID}-1", "client_id": CLIENT_ID}
    assert [r["result"] for r in records] == [expected] * 3
    assert token_endpoint.requests == [
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ]


async def run_auth(api: Api, queue: str) -> dict[str, Any]:
    token = api.keys.token(["tester"])
    return await api.wait_final(queue, await api.push(queue, {}, token), token)


async def test_ctx_auth_without_a_secret_fails_the_message_clearly(
    auth_api: Api, token_endpoint: TokenEndpoint
) -> None:
    record = await run_auth(auth_api, "nosecret")
    assert record["status"] == "ERROR"
    assert record["error"]["type"] == "ClientAuthError"
    message = record["error"]["message"]
    assert "other.app" in message
    assert "CONVEYOR_CLIENT_SECRET_OTHER_APP" in message
    assert token_endpoint.requests == []


async def test_ctx_auth_without_client_id_fails_the_message_clearly(auth_api: Api) -> None:
    record = await run_auth(auth_api, "noclient")
    assert record["status"] == "ERROR"
    assert record["error"] == {
        "type": "ClientAuthError",
        "message": "this queue's definition has no client_id",
    }


async def test_ctx_auth_refused_by_the_endpoint_fails_the_message(
    auth_api: Api, token_endpoint: TokenEndpoint
) -> None:
    record = await run_auth(auth_api, "badsecret")
    assert record["status"] == "ERROR"
    assert record["error"]["type"] == "ClientAuthError"
    assert "401" in record["error"]["message"]
    assert token_endpoint.requests[0]["client_secret"] == "not-the-secret"


async def test_ctx_auth_without_token_url_fails_the_message(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    add_queue(
        queues_dir, "withauth", handler="clientauth", roles={"roles": ["tester"]}, client_id="c"
    )
    api = api_for(await start_conveyor(client_secrets={"CONVEYOR_CLIENT_SECRET_C": "x"}))
    record = await run_auth(api, "withauth")
    assert record["status"] == "ERROR"
    assert "--token-url" in record["error"]["message"]
