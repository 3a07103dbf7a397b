"""Every error status of the HTTP API, each an RFC 9457 problem document
(``application/problem+json`` with an ``errors`` list) without a traceback:
400, 404, 405, 413, 415, 422, 503 (401/403 live in test_auth.py and test_roles.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.serve import Served
from shared.domain.message import MessageRecord
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue, add_seed_queue
from tests.support.responses import error_list

JSON = {"Content-Type": "application/json"}


async def post_raw(api: Api, queue: str, data: Any, headers: dict[str, str]) -> Any:
    return await api.session.post(f"{api.base}/{queue}", data=data, headers=headers)


# --- 400 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"a": ',
        b"{'single': 'quotes'}",
        b"{} {}",
        b'{"a": NaN}',
        b"[Infinity]",
        b'{"a": -Infinity}',
        b'{"a": "\xff\xfe"}',
        b"\xc3\x28",
    ],
    ids=[
        "empty",
        "truncated",
        "single-quotes",
        "trailing-data",
        "nan",
        "infinity",
        "minus-infinity",
        "latin1-bytes",
        "invalid-utf8",
    ],
)
async def test_body_that_is_not_strict_utf8_json_is_400(api: Api, raw: bytes) -> None:
    token = api.keys.token(["tester"])
    resp = await post_raw(api, "echo", raw, {**api.auth(token), **JSON})
    errors = await error_list(resp, 400)
    assert all(isinstance(e, str) for e in errors)


async def test_bad_json_is_not_looked_at_before_authentication(api: Api) -> None:
    resp = await post_raw(api, "echo", b'{"a": ', JSON)
    await error_list(resp, 401)


# --- 404 ---------------------------------------------------------------------------------


async def test_unknown_queue_is_404_for_every_method(api: Api) -> None:
    token = api.keys.token(["system_admin"])
    some_id = "6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11"
    errors = await error_list(await api.post("nosuchqueue", {}, token), 404)
    assert "nosuchqueue" in errors[0]
    await error_list(await api.get(f"/nosuchqueue/{some_id}", token), 404)
    await error_list(await api.delete(f"/nosuchqueue/{some_id}", token), 404)


async def test_unknown_queue_is_401_without_a_valid_token(api: Api) -> None:
    """Queue names cannot be probed anonymously: an unknown queue answers like a protected one."""
    some_id = "6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11"
    forged = api.keys.token(["system_admin"])[:-4] + "AAAA"
    for token in (None, forged):
        for existing, unknown in (("echo", "nosuchqueue"),):
            for path in (f"/{unknown}", f"/{unknown}/{some_id}", f"/{unknown}/{some_id}/retry"):
                known = path.replace(unknown, existing)
                for method in ("GET", "POST", "DELETE"):
                    if method == "DELETE" and path.count("/") != 2:
                        continue
                    headers = api.auth(token)
                    on_unknown = await api.session.request(method, api.base + path, headers=headers)
                    on_known = await api.session.request(method, api.base + known, headers=headers)
                    assert on_unknown.status == on_known.status, (method, path)
                    routed = on_known.status != 405
                    assert on_known.status == 401 or not routed, (method, path)
    batch = await api.session.post(f"{api.base}/nosuchqueue/batch", json=[{}])
    assert batch.status == 401
    # A queue with auth off still needs no token.
    assert (await api.post("open", {"x": 1})).status == 201


async def test_unknown_id_is_404_for_get_and_delete(api: Api) -> None:
    token = api.keys.token(["tester"])
    for unknown in ("6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11", "not-a-uuid"):
        await error_list(await api.get(f"/echo/{unknown}", token), 404)
        await error_list(await api.delete(f"/echo/{unknown}", token), 404)


async def test_an_id_is_only_found_on_its_own_queue(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {"x": 1}, token)
    await error_list(await api.get(f"/fail/{message_id}", token), 404)
    await error_list(await api.delete(f"/fail/{message_id}", token), 404)
    assert (await api.get(f"/echo/{message_id}", token)).status == 200


async def test_unrouted_path_is_404_json(api: Api) -> None:
    resp = await api.get("/echo/some/deeper/path")
    await error_list(resp, 404)


# --- 405 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("PUT", "/echo", {"GET", "POST"}),  # GET /{queue} lists the queue's messages
        ("PATCH", "/echo", {"GET", "POST"}),
        ("DELETE", "/echo", {"GET", "POST"}),
        ("PATCH", "/echo/6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11", {"GET", "DELETE"}),
        ("POST", "/echo/6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11", {"GET", "DELETE"}),
        ("PUT", "/echo/6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11", {"GET", "DELETE"}),
    ],
)
async def test_wrong_method_is_405_with_allow_header(
    api: Api, method: str, path: str, allowed: set[str]
) -> None:
    token = api.keys.token(["tester"])
    resp = await api.session.request(method, f"{api.base}{path}", json={}, headers=api.auth(token))
    await error_list(resp, 405)
    allow = {m.strip() for m in resp.headers["Allow"].split(",")}
    assert allowed <= allow, allow
    assert method not in allow


# --- 413 ---------------------------------------------------------------------------------


def body_of(size: int) -> bytes:
    """A JSON object exactly ``size`` bytes long."""
    body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    assert len(body) == size
    return body


async def test_body_over_max_body_bytes_is_413(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor(max_body_bytes=200))
    headers = {**api.auth(api.keys.token(["tester"])), **JSON}

    at_limit = await post_raw(api, "echo", body_of(200), headers)
    assert at_limit.status == 201, await at_limit.text()

    errors = await error_list(await post_raw(api, "echo", body_of(201), headers), 413)
    assert "200" in errors[0]
    await error_list(await post_raw(api, "echo", body_of(5000), headers), 413)


async def test_chunked_body_over_max_body_bytes_is_413(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    """No Content-Length to check up front: the limit applies while reading."""
    api = api_for(await start_conveyor(max_body_bytes=200))
    headers = {**api.auth(api.keys.token(["tester"])), **JSON}

    async def chunks(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64):
            yield body[start : start + 64]

    small = await post_raw(api, "echo", chunks(body_of(150)), headers)
    assert small.status == 201, await small.text()
    assert "Content-Length" not in small.request_info.headers
    await error_list(await post_raw(api, "echo", chunks(body_of(1000)), headers), 413)


# --- 415 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
async def test_non_json_content_type_is_415(api: Api, content_type: str | None) -> None:
    headers = api.auth(api.keys.token(["tester"]))
    if content_type is not None:
        headers["Content-Type"] = content_type
    resp = await api.session.post(
        f"{api.base}/echo",
        data=b'{"a": 1}',
        headers=headers,
        skip_auto_headers=["Content-Type"],
    )
    sent = resp.request_info.headers.get("Content-Type")
    assert sent == content_type
    errors = await error_list(resp, 415)
    assert "application/json" in errors[0]


# --- 422 ---------------------------------------------------------------------------------


@pytest.fixture
def seed_queues(queues_dir: Path) -> Path:
    """The seed's myQueue, plus the seed's array-of-strings schema example."""
    add_seed_queue(queues_dir)
    add_queue(
        queues_dir,
        "strings",
        schema={"type": "array", "items": {"type": "string"}},
        roles={"roles": ["tester"]},
    )
    return queues_dir


async def test_seed_example_message_is_accepted(
    seed_queues: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor())
    token = api.keys.token(["one"])
    message_id = await api.push("myQueue", {"hello": "there", "world": "yes"}, token)
    record = await api.wait_final("myQueue", message_id, token)
    assert record["status"] == "COMPLETE"
    assert record["request"] == {"hello": "there", "world": "yes"}
    assert record["result"] == {"result": "value"}
    assert record["error"] is None
    # only "hello" is required
    assert (await api.post("myQueue", {"hello": "only"}, token)).status == 201


async def test_schema_failure_is_422_listing_every_error(
    seed_queues: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor())
    token = api.keys.token(["one"])
    resp = await api.post("myQueue", {"world": 5, "extra": True}, token)
    errors = await error_list(resp, 422)
    assert all(set(e) == {"path", "message"} for e in errors), errors
    assert len(errors) == 3, errors
    by_path: dict[str, list[str]] = {}
    for error in errors:
        by_path.setdefault(error["path"], []).append(error["message"])
    assert sorted(by_path) == ["$", "$.world"]
    root = " | ".join(by_path["$"])
    assert "'hello' is a required property" in root
    assert "extra" in root and "Additional properties" in root
    assert by_path["$.world"] == ["5 is not of type 'string'"]


async def test_schema_failure_paths_point_into_arrays(
    seed_queues: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor())
    token = api.keys.token(["tester"])
    assert (await api.post("strings", ["a", "b"], token)).status == 201
    errors = await error_list(await api.post("strings", ["a", 1, "c", None], token), 422)
    assert [e["path"] for e in errors] == ["$[1]", "$[3]"]
    assert errors[0]["message"] == "1 is not of type 'string'"
    assert errors[1]["message"] == "None is not of type 'string'"
    errors = await error_list(await api.post("strings", {"not": "an array"}, token), 422)
    assert errors == [{"path": "$", "message": "{'not': 'an array'} is not of type 'array'"}]


async def test_wrong_type_for_whole_body_is_422(
    seed_queues: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor())
    errors = await error_list(await api.post("myQueue", ["hello"], api.keys.token(["one"])), 422)
    assert errors == [{"path": "$", "message": "['hello'] is not of type 'object'"}]


# --- 503 ---------------------------------------------------------------------------------


def spy_inserts(served: Served, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the id of every record the store is asked to insert."""
    inserted: list[str] = []
    store = served.runtime.store
    original = store.insert

    async def insert(record: MessageRecord) -> None:
        inserted.append(record.id)
        await original(record)

    monkeypatch.setattr(store, "insert", insert)
    return inserted


def spy_publishes(served: Served, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every message id the delivery is asked to publish."""
    published: list[str] = []
    delivery = served.runtime.delivery
    original = delivery.publish

    async def publish(queue: str, message_id: str) -> None:
        published.append(message_id)
        await original(queue, message_id)

    monkeypatch.setattr(delivery, "publish", publish)
    return published


async def test_store_down_is_503_and_nothing_is_published(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    token = api.keys.token(["tester"])
    existing = await api.push("echo", {"before": True}, token)
    await api.wait_final("echo", existing, token)
    published = spy_publishes(served, monkeypatch)

    await served.runtime.store.close()

    resp = await api.post("echo", {"during": True}, token)
    await error_list(resp, 503)
    assert resp.headers.get("Retry-After") == "1"
    assert published == []
    await error_list(await api.get(f"/echo/{existing}", token), 503)
    await error_list(await api.delete(f"/echo/{existing}", token), 503)
    errors = await error_list(await api.get("/readyz"), 503)
    assert any(str(e).startswith("store") for e in errors), errors


async def test_delivery_down_is_503_and_the_record_is_undone(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    token = api.keys.token(["tester"])
    inserted = spy_inserts(served, monkeypatch)

    await served.runtime.delivery.close()

    resp = await api.post("echo", {"during": True}, token)
    await error_list(resp, 503)
    assert resp.headers.get("Retry-After") == "1"
    assert len(inserted) == 1, "the gateway should have tried to record it first"
    await error_list(await api.get(f"/echo/{inserted[0]}", token), 404)
    errors = await error_list(await api.get("/readyz"), 503)
    assert any(str(e).startswith("delivery") for e in errors), errors
