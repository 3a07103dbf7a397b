"""The success answers of the HTTP API: 201 (record + Location), 200, 204; health checks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.api_client import Api
from tests.support.responses import RECORD_FIELDS, assert_record, parse_ts


async def test_post_answers_201_with_pending_record_and_location(api: Api) -> None:
    token = api.keys.token(["tester"])
    body = {"hello": "there", "nested": {"list": [1, 2.5, None, True]}}
    resp = await api.post("echo", body, token)
    assert resp.status == 201, await resp.text()
    assert resp.content_type == "application/json"
    record = await resp.json()
    assert set(record) == RECORD_FIELDS
    assert_record(record, "echo")
    assert uuid.UUID(record["id"]).version == 4
    assert record["status"] == "PENDING"
    assert record["request"] == body
    assert record["result"] is None
    assert record["error"] is None
    assert record["attempts"] == 0
    assert record["created_at"] == record["updated_at"]
    assert resp.headers["Location"] == f"/echo/{record['id']}"

    located = await api.get(resp.headers["Location"], token)
    assert located.status == 200
    assert (await located.json())["id"] == record["id"]


async def test_every_push_gets_its_own_uuid4(api: Api) -> None:
    token = api.keys.token(["tester"])
    ids = [await api.push("echo", {"n": n}, token) for n in range(20)]
    assert len(set(ids)) == 20
    for message_id in ids:
        parsed = uuid.UUID(message_id)
        assert parsed.version == 4 and str(parsed) == message_id


async def test_get_answers_200_with_the_final_record(api: Api) -> None:
    token = api.keys.token(["tester"])
    created = await (await api.post("echo", {"hello": "world"}, token)).json()
    record = await api.wait_final("echo", created["id"], token)

    resp = await api.get(f"/echo/{created['id']}", token)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert await resp.json() == record
    assert_record(record, "echo")
    assert record["status"] == "COMPLETE"
    assert record["request"] == {"hello": "world"}
    assert record["result"] == {
        "echo": {"hello": "world"},
        "id": created["id"],
        "queue": "echo",
        "attempt": 1,
    }
    assert record["error"] is None
    assert record["attempts"] == 1
    assert record["created_at"] == created["created_at"]
    assert parse_ts(record["updated_at"]) >= parse_ts(created["updated_at"])


async def test_delete_answers_204_then_the_message_is_gone(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {"bye": True}, token)
    await api.wait_final("echo", message_id, token)

    resp = await api.delete(f"/echo/{message_id}", token)
    assert resp.status == 204
    assert await resp.read() == b""
    assert (await api.get(f"/echo/{message_id}", token)).status == 404
    assert (await api.delete(f"/echo/{message_id}", token)).status == 404


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"[1, 2, 3]", [1, 2, 3]),
        (b'"just a string"', "just a string"),
        (b"42", 42),
        (b"null", None),
        (
            '{"text": "h\u00e9llo \u2603 \U0001f600"}'.encode(),
            {"text": "h\u00e9llo \u2603 \U0001f600"},
        ),
    ],
    ids=["array", "string", "number", "null", "unicode"],
)
async def test_any_json_document_the_schema_allows_is_kept_verbatim(
    api: Api, raw: bytes, expected: Any
) -> None:
    token = api.keys.token(["tester"])
    resp = await api.session.post(
        f"{api.base}/fail",
        data=raw,
        headers={**api.auth(token), "Content-Type": "application/json"},
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["request"] == expected
    got = await (await api.get(f"/fail/{created['id']}", token)).json()
    assert got["request"] == expected


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_media_types_with_parameters_or_suffix_are_accepted(
    api: Api, content_type: str
) -> None:
    token = api.keys.token(["tester"])
    resp = await api.session.post(
        f"{api.base}/echo",
        data=b'{"a": 1}',
        headers={**api.auth(token), "Content-Type": content_type},
    )
    assert resp.status == 201, await resp.text()


async def test_healthz_and_readyz(api: Api) -> None:
    health = await api.get("/healthz")
    assert health.status == 200
    assert await health.json() == {"status": "ok"}
    ready = await api.get("/readyz", api.keys.token(["system_reader"]))
    assert ready.status == 200
    body = await ready.json()
    assert body["status"] == "ready"
    assert {"echo", "fail", "open", "slow", "syncwork", "nonjson"} <= set(body["queues"])


async def test_the_root_redirects_to_the_dashboard(api: Api) -> None:
    resp = await api.session.get(f"{api.base}/", allow_redirects=False)
    assert resp.status == 302, await resp.text()
    assert resp.headers["Location"] == "/ui"
    followed = await api.session.get(f"{api.base}/")
    assert followed.status == 200 and followed.url.path == "/ui"
    assert "Conveyor dashboard" in await followed.text()
