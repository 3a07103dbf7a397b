"""HTTP protocol edges against a real gateway on a real port (raw sockets where a client
library would not send the request): HTTP versions, ``Expect``, clients that leave before
their body arrives, and the headers on every answer (``gateway.http.protocol``,
``gateway.http.conn_limits``, ``gateway.http.errors``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.raw_http import Answer, address, close_writer, get, read_to_end, send_and_read
from tests.support.responses import error_list
from tests.support.waiting import wait_until


@pytest.fixture
def mode() -> str:
    """The HTTP layer is the same in both modes: embedded only."""
    return "embedded"


async def raw_answer(served: Served, raw: bytes) -> tuple[str, int, dict[str, str], bytes]:
    """Send ``raw`` on a new connection; (status line's version, status, headers, body) of
    its answer, which must be followed by the server closing the connection."""
    reader, writer = await asyncio.open_connection(*address(served))
    try:
        writer.write(raw)
        data = await read_to_end(reader)  # times out (fails) if the server keeps it open
    finally:
        await close_writer(writer)
    assert data, "the server closed without an answer"
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, status, _ = status_line.split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return version, int(status), headers, body


def problem_of(status: int, headers: dict[str, str], body: bytes) -> list[str]:
    """The messages of a problem JSON answer (asserting its shape)."""
    return Answer(status, headers, body).errors()


# --- versions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_line", "status", "words"),
    [
        ("GET /queues", 400, "no HTTP version"),  # the HTTP/0.9 form
        ("GET /queues HTTP/0.9", 505, "HTTP/0.9"),
        ("GET /queues HTTP/2.0", 505, "HTTP/2.0"),
        ("GET /queues HTTP/1.2", 505, "not supported"),  # refused by aiohttp's parser
    ],
    ids=["no-version", "http-0.9", "http-2.0", "http-1.2"],
)
async def test_other_http_versions_get_a_problem_in_http_1_1_and_a_close(
    start_conveyor: StartConveyor, request_line: str, status: int, words: str
) -> None:
    served = await start_conveyor()
    version, got, headers, body = await raw_answer(
        served, f"{request_line}\r\nHost: t\r\n\r\n".encode()
    )
    assert got == status, body
    assert version in ("HTTP/1.1", "HTTP/1.0"), version  # never echoes HTTP/0.9 or 2.0
    assert words in problem_of(got, headers, body)[0]
    assert headers["x-content-type-options"] == "nosniff"
    assert b"queues" not in body  # refused before the route ran


async def test_http_1_0_and_1_1_are_served(start_conveyor: StartConveyor) -> None:
    served = await start_conveyor()
    for version in ("HTTP/1.0", "HTTP/1.1"):
        raw = f"GET /healthz {version}\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
        answered, status, _, _ = await raw_answer(served, raw)
        assert (answered, status) == (version, 200)


# --- Expect ------------------------------------------------------------------------------


async def test_an_unknown_expectation_is_a_417_problem(start_conveyor: StartConveyor) -> None:
    served = await start_conveyor()
    raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}"
    version, status, headers, body = await raw_answer(served, raw)
    assert (version, status) == ("HTTP/1.1", 417), body
    assert "100-continue" in problem_of(status, headers, body)[0]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-request-id"]  # answered through the middlewares, like any answer


async def test_100_continue_still_gets_its_interim_answer(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor()
    token = api_for(served).keys.token(["tester"])
    reader, writer = await asyncio.open_connection(*address(served))
    try:
        writer.write(
            f"POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        writer.write(b"{}")
        final = await read_to_end(reader)
    finally:
        await close_writer(writer)
    assert final.startswith(b"HTTP/1.1 201 "), final


# --- clients that leave ------------------------------------------------------------------


def request_codes(text: str, route: str) -> dict[str, float]:
    """``conveyor_http_request_duration_seconds_count`` of ``route`` by code."""
    codes: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "conveyor_http_request_duration_seconds_count"
                and sample.labels["route"] == route
            ):
                codes[sample.labels["code"]] = codes.get(sample.labels["code"], 0) + sample.value
    return codes


@pytest.mark.parametrize("expect", [False, True], ids=["mid-body", "expect-100-continue"])
async def test_a_client_leaving_mid_body_is_one_info_line_and_a_499(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    caplog: pytest.LogCaptureFixture,
    expect: bool,
) -> None:
    served = await start_conveyor()
    api = api_for(served)
    token = api.keys.token(["tester"])
    caplog.set_level(logging.INFO)
    caplog.clear()  # start-up's lines
    reader, writer = await asyncio.open_connection(*address(served))
    writer.write(
        f"POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 1000\r\n"
        f"{'Expect: 100-continue' + chr(13) + chr(10) if expect else ''}\r\n".encode()
    )
    if expect:  # the body never comes
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    else:
        writer.write(b'{"pad": "x')  # 10 of the 1000 bytes
        await writer.drain()
    await close_writer(writer)

    def left() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "closed the connection" in r.getMessage()]

    [line] = await wait_until(left, "the gateway to log the client leaving", 10)
    assert line.levelno == logging.INFO and line.exc_info is None
    assert "POST /echo" in line.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "Traceback" not in caplog.text
    metrics = await api.get("/metrics", api.keys.token(["system_admin"]))
    assert metrics.status == 200, await metrics.text()
    codes = request_codes(await metrics.text(), "/{queue}")
    assert codes.get("499") == 1 and "500" not in codes, codes


# --- headers on every answer -------------------------------------------------------------


async def test_every_answer_says_nosniff(api: Api) -> None:
    token = api.keys.token(["tester"])
    served_paths = ["/healthz", "/queues", "/openapi.json", "/ui", "/docs", "/echo"]
    for path in served_paths:
        resp = await api.get(path, token)
        assert resp.status == 200, (path, await resp.text())
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
    missing = await api.get("/echo/no-such-id", token)
    await error_list(missing, 404)
    unrouted = await api.get("/no/such/route/at/all", token)
    assert unrouted.status == 404
    unauthorized = await api.get("/echo")
    await error_list(unauthorized, 401)
    for resp in (missing, unrouted, unauthorized):
        assert resp.headers["X-Content-Type-Options"] == "nosniff", resp.url


async def test_protocol_level_answers_say_nosniff_too(start_conveyor: StartConveyor) -> None:
    served = await start_conveyor()
    parse_error = await send_and_read(served, b"FOO / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert parse_error.status == 400
    assert parse_error.headers["x-content-type-options"] == "nosniff"
    too_long = await send_and_read(served, get("/" + "a" * 9000))
    assert too_long.status == 414
    assert too_long.headers["x-content-type-options"] == "nosniff"


async def test_ui_and_docs_may_not_be_framed(api: Api) -> None:
    for path in ("/ui", "/docs"):
        resp = await api.get(path)
        assert resp.status == 200
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
