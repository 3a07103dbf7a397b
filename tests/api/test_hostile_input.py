"""Hostile input that used to escape as a 500 with a traceback, through real HTTP in both
modes: token bytes that are not UTF-8, integers past 4,300 digits, bodies nested past
``--max-json-depth`` (and validation that runs out of stack), listing cursors that are deeply
nested or out of the datetime range, time claims that are not numbers or out of range, and
numbers in query parameters and headers that are not plain decimals."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.responses import error_list, problem_items
from tests.support.tokens import b64url

JSON = {"Content-Type": "application/json"}
#: For what the gateway refuses before it reaches a store: one mode is enough.
EMBEDDED = pytest.mark.parametrize("mode", ["embedded"], indirect=True)
#: A schema that refers to itself at every level: validation descends as deep as the value.
RECURSIVE_SCHEMA = {
    "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
    "$ref": "#/$defs/node",
}


def nested(levels: int) -> bytes:
    """``{"child": {"child": ... {}}}`` with ``levels`` objects."""
    return ('{"child":' * (levels - 1) + "{}" + "}" * (levels - 1)).encode()


async def raw_request(base: str, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and header lines, as raw bytes) and read the answer.

    For header bytes an HTTP client library refuses to send (e.g. a lone ``\\xe9``).
    """
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head + b"\r\nHost: test\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head_part, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head_part.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, body


def cursor_of(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.fixture
async def rapi(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    """A Conveyor with the queue ``tree`` (the recursive schema) besides the test queues."""
    add_queue(queues_dir, "tree", schema=RECURSIVE_SCHEMA, roles={"roles": ["tester"]})
    return api_for(await start_conveyor())


#: Loggers a request passes through on its way in (not the consumer's or the reloader's).
REQUEST_PATH_LOGGERS = ("gateway", "shared.domain.payloads", "shared.service", "aiohttp")


def request_logs(caplog: pytest.LogCaptureFixture, since: int) -> list[logging.LogRecord]:
    """What the request path logged since ``since``, asserting nothing logged a traceback."""
    records = caplog.records[since:]
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR], records
    return [r for r in records if r.name.startswith(REQUEST_PATH_LOGGERS)]


# --- tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [b"Authorization: Bearer \xe9.a.b", b"x-access-token: \xe9.a.b"], ids=str
)
async def test_a_token_with_a_non_utf8_byte_is_401(api: Api, header: bytes) -> None:
    for method_path in (b"POST /echo HTTP/1.1", b"GET /echo HTTP/1.1", b"GET /queues HTTP/1.1"):
        status, headers, body = await raw_request(api.base, method_path + b"\r\n" + header)
        assert status == 401, body
        assert headers["content-type"].startswith("application/problem+json")
        assert problem_items(json.loads(body), 401) == ["malformed token"]
        assert 'error="invalid_token"' in headers["www-authenticate"]


@pytest.mark.parametrize(
    "claim",
    [
        {"exp": "9999999999"},
        {"nbf": True},
        {"nbf": "0"},
        {"iat": "1700000000"},
    ],
    ids=["exp-string", "nbf-bool", "nbf-string", "iat-string"],
)
async def test_time_claims_must_be_numbers(api: Api, claim: dict[str, Any]) -> None:
    token = api.keys.token(["tester"], extra=claim)  # validly signed
    errors = await error_list(await api.get("/echo", token), 401)
    assert "NumericDate" in errors[0], errors


@pytest.mark.parametrize(
    "claim",
    [
        {"exp": 10**400},
        {"exp": 2**64},
        {"exp": float("inf")},
        {"exp": -1},
        {"iat": 10**400},
        {"nbf": 10**400},
        {"iat": -(10**400)},
    ],
    ids=[
        "exp-10e400",
        "exp-2e64",
        "exp-infinity",
        "exp-negative",
        "iat-huge",
        "nbf-huge",
        "iat-tiny",
    ],
)
@EMBEDDED
async def test_time_claims_out_of_range_are_401(api: Api, claim: dict[str, Any]) -> None:
    # Validly signed: PyJWT itself takes an exp of 10**400, which float() cannot convert.
    token = api.keys.token(["tester"], extra=claim)
    await error_list(await api.get("/echo", token), 401)
    events = {**api.auth(token), "Accept": "text/event-stream"}
    async with api.session.get(f"{api.base}/echo/some-id/events", headers=events) as resp:
        await error_list(resp, 401)


async def test_a_token_whose_header_nests_deeply_is_401(api: Api) -> None:
    head = base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("=")
    errors = await error_list(await api.get("/echo", f"{head}.e30.sig"), 401)
    assert errors == ["malformed token"]


async def test_a_token_whose_claims_nest_deeply_is_401(api: Api) -> None:
    # Signed with the right secret, so only the payload's depth is wrong with it.
    payload = b'{"exp": 9999999999, "deep": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    head = b64url(b'{"alg": "HS256", "typ": "JWT"}') + "." + b64url(payload)
    mac = hmac.new(api.keys.hs_secret.encode(), head.encode(), hashlib.sha256).digest()
    token = f"{head}.{b64url(mac)}"
    await error_list(await api.get("/echo", token), 401)


# --- integers ----------------------------------------------------------------------------


BIG = "9" * 4301


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("echo", f'{{"n": {BIG}}}', {}),
        ("echo", f'{{"n": -{BIG}}}', {}),
        ("echo/batch", f'[{{"n": 1}}, {{"n": {BIG}}}]', {}),
        ("echo", f'{{"n": {BIG}}}', {"Idempotency-Key": "big-int"}),
    ],
    ids=["push", "negative", "batch", "idempotent"],
)
async def test_an_integer_of_more_than_4300_digits_is_400(
    api: Api, path: str, body: str, headers: dict[str, str]
) -> None:
    token = api.keys.token(["tester"])
    resp = await api.session.post(
        f"{api.base}/{path}", data=body, headers={**api.auth(token), **JSON, **headers}
    )
    assert await error_list(resp, 400) == ["integer too large: more than 4300 digits"]


async def test_an_integer_of_4300_digits_is_kept_exactly(api: Api) -> None:
    token = api.keys.token(["tester"])
    largest = int("9" * 4300)
    message_id = await api.push("echo", {"n": largest, "m": -largest}, token)
    record = await api.wait_final("echo", message_id, token)
    assert record["request"] == {"n": largest, "m": -largest}
    assert record["status"] == "COMPLETE", record


# --- nesting -----------------------------------------------------------------------------


async def test_a_body_nested_past_the_limit_is_400_with_no_traceback(
    rapi: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = rapi.keys.token(["tester"])
    since = len(caplog.records)
    for path, body in (("tree", nested(300)), ("tree/batch", b"[" + nested(64) + b"]")):
        resp = await rapi.session.post(
            f"{rapi.base}/{path}", data=body, headers={**rapi.auth(token), **JSON}
        )
        assert await error_list(resp, 400) == ["JSON is nested deeper than 64 levels"]
    assert request_logs(caplog, since) == []  # a client's mistake, nothing to tell operators


async def test_a_body_at_the_limit_is_accepted(rapi: Api) -> None:
    token = rapi.keys.token(["tester"])
    resp = await rapi.session.post(
        f"{rapi.base}/tree", data=nested(64), headers={**rapi.auth(token), **JSON}
    )
    assert resp.status == 201, await resp.text()
    record = await rapi.wait_final("tree", (await resp.json())["id"], token)
    assert record["request"] == json.loads(nested(64))


async def test_max_json_depth_sets_the_limit(
    queues_dir: Path, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor(max_json_depth=3))
    token = api.keys.token(["tester"])
    assert (await api.post("echo", {"a": [{"b": 1}]}, token)).status == 201
    errors = await error_list(await api.post("echo", {"a": [{"b": [1]}]}, token), 400)
    assert errors == ["JSON is nested deeper than 3 levels"]


async def test_validation_that_runs_out_of_stack_is_422_with_one_log_line(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The deepest allowed limit lets a body through that the recursive schema cannot walk in
    # Python. A valid one is accepted by the compiled fast path (shared.domain.schema_validator);
    # an invalid one goes to jsonschema for its errors, which runs out of stack: 422.
    add_queue(queues_dir, "tree", schema=RECURSIVE_SCHEMA, roles={"roles": ["tester"]})
    api = api_for(await start_conveyor(max_json_depth=256))
    caplog.set_level(logging.DEBUG)
    token = api.keys.token(["tester"])
    headers = {**api.auth(token), **JSON}
    valid = await api.session.post(f"{api.base}/tree", data=nested(250), headers=headers)
    assert valid.status == 201, await valid.text()
    since = len(caplog.records)
    invalid = nested(250).replace(b"{}", b"1", 1)  # the innermost child is not an object
    resp = await api.session.post(f"{api.base}/tree", data=invalid, headers=headers)
    errors = await error_list(resp, 422)
    assert errors == [{"path": "$", "message": "the message is nested too deeply to validate"}]
    records = request_logs(caplog, since)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "--max-json-depth" in records[0].getMessage()
    assert "\n" not in records[0].getMessage()


# --- listing cursors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(b"[" * 5500).decode(),
        cursor_of({"created_at": "0001-01-01T00:00:00+14:00", "id": str(uuid.uuid4())}),
        cursor_of({"created_at": "9999-12-31T23:59:59-14:00", "id": str(uuid.uuid4())}),
        cursor_of({"created_at": "2024-01-01T00:00:00+00:00", "id": "\ud800"}),
        cursor_of({"created_at": "2024-01-01T00:00:00+00:00", "id": "not-a-message-id"}),
        cursor_of({"created_at": "2024-01-01T00:00:00+00:00", "id": 7}),
        cursor_of({"created_at": 12, "id": str(uuid.uuid4())}),
        cursor_of(["created_at", "id"]),
        "é",
    ],
    ids=[
        "deep",
        "year-1-east",
        "year-9999-west",
        "lone-surrogate-id",
        "not-a-uuid",
        "number-id",
        "number-date",
        "array",
        "non-ascii",
    ],
)
async def test_a_bad_cursor_is_400_in_both_stores(api: Api, cursor: str) -> None:
    token = api.keys.token(["tester"])
    resp = await api.session.get(
        f"{api.base}/echo", params={"cursor": cursor}, headers=api.auth(token)
    )
    assert await error_list(resp, 400) == ["cursor is malformed (use next_cursor from a listing)"]


@pytest.mark.parametrize("query", [b"cursor=%E9%FF", b"cursor=%00", b"cursor=%5B%5B"], ids=str)
async def test_a_cursor_of_raw_bytes_is_400(api: Api, query: bytes) -> None:
    auth = f"Authorization: Bearer {api.keys.token(['tester'])}".encode()
    status, _, body = await raw_request(api.base, b"GET /echo?" + query + b" HTTP/1.1\r\n" + auth)
    assert status == 400, body
    messages = problem_items(json.loads(body), 400)
    assert messages == ["cursor is malformed (use next_cursor from a listing)"]


async def test_a_cursor_at_the_ends_of_the_datetime_range_is_taken(api: Api) -> None:
    token = api.keys.token(["tester"])
    await api.push("echo", {"n": 1}, token)
    for created_at, count in (("9999-12-31T23:59:59+00:00", 1), ("0001-01-01T00:00:00Z", 0)):
        cursor = cursor_of({"created_at": created_at, "id": str(uuid.uuid4())})
        resp = await api.session.get(
            f"{api.base}/echo", params={"cursor": cursor}, headers=api.auth(token)
        )
        assert resp.status == 200, await resp.text()
        assert len((await resp.json())["items"]) == count


# --- numbers in query parameters and headers ---------------------------------------------


#: Values float()/int() take that are not plain decimals, and a few they refuse anyway.
NOT_PLAIN = [
    "1_000",
    "\u0661\u0662",  # Arabic-Indic 12
    "\u0663",  # Arabic-Indic 3
    "1e3",
    "+5",
    " 5",
    "5\n",
    "0x10",
    "1.1234567",  # seven decimals
    "9" * 16,  # sixteen digits
    "9" * 5000,
]


async def bad_number(api: Api, where: str, value: str) -> aiohttp.ClientResponse:
    """Send ``value`` as the number ``where`` names, to a request that reads it."""
    token = api.keys.token(["tester"])
    auth = api.auth(token)
    if where == "delay":
        return await api.post("echo", {}, token, params={"delay": value})
    if where == "wait":
        return await api.session.get(f"{api.base}/echo/x", params={"wait": value}, headers=auth)
    if where == "limit":
        return await api.session.get(f"{api.base}/echo", params={"limit": value}, headers=auth)
    headers = {**auth, "Accept": "text/event-stream", "Last-Event-ID": value}
    return await api.session.get(f"{api.base}/echo/x/events", headers=headers)


#: Each number with each value; a header's value is stripped of surrounding space and sent
#: as latin-1, so those values are for the query parameters only.
NUMBERS = [
    (where, value)
    for where in ("delay", "wait", "limit", "Last-Event-ID")
    for value in NOT_PLAIN
    if where != "Last-Event-ID" or (value.isascii() and value == value.strip())
]


@EMBEDDED
@pytest.mark.parametrize(("where", "value"), NUMBERS, ids=lambda v: ascii(v)[:20])
async def test_numbers_must_be_plain_decimals(api: Api, where: str, value: str) -> None:
    resp = await bad_number(api, where, value)
    [message] = await error_list(resp, 400)
    assert message.startswith(f"{where} must be a plain "), message
    assert len(message) < 140, message  # the value is quoted cut to 32 characters
    assert repr(value[:32]).strip("'") in message, message


async def test_last_event_id_of_5000_digits_is_400_not_500(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    since = len(caplog.records)
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {}, token)
    headers = {**api.auth(token), "Accept": "text/event-stream", "Last-Event-ID": "9" * 5000}
    async with api.session.get(f"{api.base}/echo/{message_id}/events", headers=headers) as resp:
        [message] = await error_list(resp, 400)
    assert "Last-Event-ID" in message and len(message) < 140, message
    assert request_logs(caplog, since) == []


async def test_out_of_range_numbers_are_reported_short(api: Api) -> None:
    token = api.keys.token(["tester"])
    huge = await api.post("echo", {}, token, params={"delay": "1e308"})
    [message] = await error_list(huge, 400)  # not a plain decimal
    assert len(message) < 140, message
    far = await api.post("echo", {}, token, params={"delay": "999999999999999.999999"})
    [message] = await error_list(far, 422)  # past the queue's max_delay_seconds
    assert "max_delay_seconds" in message and len(message) < 140, message
