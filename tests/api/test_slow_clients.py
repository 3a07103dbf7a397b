"""Slow and broken clients against a real gateway on a real port (raw sockets): the head,
body and idle timeouts, the connection cap, and JSON answers to HTTP protocol errors.

The timeouts are made short through the settings; the requests trickle for much longer
than any assertion waits, so a missing timeout fails the test instead of passing late.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from conveyor.serve import Served
from gateway.http.capacity import RESERVED_DESCRIPTORS, EveryInterval, connection_cap
from shared.platform.settings import Settings
from tests.support.api_client import Api, StartConveyor
from tests.support.raw_http import (
    CUT_WITHIN,
    address,
    close_writer,
    get,
    parse_answer,
    read_answer,
    read_to_end,
    send_and_read,
)


@pytest.fixture
def mode() -> str:
    """The HTTP layer is the same in both modes: embedded only."""
    return "embedded"


@pytest.fixture
async def open_connection(
    start_conveyor: StartConveyor,
) -> AsyncIterator[Callable[..., Any]]:
    """Open raw connections to a served gateway; all closed at test end."""
    writers: list[asyncio.StreamWriter] = []

    async def connect(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(*address(served))
        writers.append(writer)
        return reader, writer

    yield connect
    for writer in writers:
        await close_writer(writer)


# --- timeouts ----------------------------------------------------------------------------------


async def trickle(served: Served, raw: bytes, every: float) -> bytes | None:
    """Send ``raw`` one byte per ``every`` seconds until the server closes the connection;
    what it answered (b"" for none), or None if it was still open after ``CUT_WITHIN``."""
    reader, writer = await asyncio.open_connection(*address(served))
    answer = asyncio.ensure_future(read_to_end(reader))
    deadline = time.monotonic() + CUT_WITHIN
    try:
        for byte in raw:
            if answer.done() or time.monotonic() > deadline:
                break
            try:
                writer.write(bytes([byte]))
            except ConnectionError:
                break
            await asyncio.wait({answer}, timeout=every)
        if not answer.done():
            answer.cancel()
            return None
        return answer.result()
    finally:
        await close_writer(writer)


async def test_500_slow_request_heads_are_cut_while_pushes_are_served(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 2.5 s: half a second out of step with the trickle (see the slow body test)
    served = await start_conveyor(header_timeout_seconds=2.5, idle_timeout_seconds=60.0)
    api = api_for(served)
    token = api.keys.token(["tester"])
    head = get("/echo", "Content-Type: application/json\r\nX-Pad: " + "p" * 80 + "\r\n")
    assert len(head) > 2 * CUT_WITHIN  # at 1 byte/s it would outlast every wait below
    slow = [asyncio.ensure_future(trickle(served, head, 1.0)) for _ in range(500)]
    pushes: list[int] = []
    while not all(task.done() for task in slow):
        pushes.append((await api.post("echo", {"n": len(pushes)}, token)).status)
        await asyncio.sleep(0.1)
    answers = [task.result() for task in slow]
    assert None not in answers, f"{answers.count(None)} slow connections were never cut"
    timed_out = [parse_answer(a) for a in answers if a]  # b"": the 408 was lost to a reset
    assert timed_out, "no slow connection got its 408"
    for answer in timed_out:
        assert answer.status == 408, answer
        assert "headers" in answer.errors()[0]
    assert len(pushes) >= 5 and set(pushes) == {201}, pushes
    http_layer = ("gateway", "aiohttp", "asyncio")
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in problems if r.name.startswith(http_layer)], caplog.text


async def test_idle_connections_are_closed_after_the_idle_timeout(
    start_conveyor: StartConveyor, open_connection: Callable[..., Any]
) -> None:
    served = await start_conveyor(idle_timeout_seconds=1.0)
    silent, _ = await open_connection(served)  # never sends a byte
    reader, writer = await open_connection(served)
    for _ in range(2):  # keep-alive works: two requests on one connection
        writer.write(get("/healthz"))
        assert (await read_answer(reader)).status == 200
    assert await read_to_end(reader) == b""  # then, idle, it is closed without an answer
    assert await read_to_end(silent) == b""


async def test_a_slow_body_is_cut_with_408_json(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = await start_conveyor(body_timeout_seconds=1.5)
    token = api_for(served).keys.token(["tester"])
    body = json.dumps({"pad": "x" * 100}).encode()
    head = (
        f"POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(*address(served))
    writer.write(head)
    answer = asyncio.ensure_future(read_to_end(reader))
    # 0.4 s a byte (40 s for the body), out of step with the timeout: a byte arriving as the
    # server closes would make it reset the connection, and the 408 could be lost.
    for byte in body:
        if answer.done():
            break
        writer.write(bytes([byte]))
        await asyncio.wait({answer}, timeout=0.4)
    assert answer.done(), "the slow body was never cut"
    await close_writer(writer)
    cut = parse_answer(answer.result())
    assert cut.status == 408
    assert "body" in cut.errors()[0]
    await asyncio.sleep(0.5)  # the server closes the connection; nothing is logged as an error
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_long_poll_outlasts_every_read_timeout(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    short = {"header_timeout_seconds": 0.5, "body_timeout_seconds": 0.5}
    api = api_for(await start_conveyor(idle_timeout_seconds=0.5, **short))
    token = api.keys.token(["tester"])
    message_id = await api.push("slow", {"seconds": 8}, token)
    started = time.monotonic()
    resp = await api.get(f"/slow/{message_id}?wait=3", token)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] in ("PENDING", "INPROGRESS")
    assert time.monotonic() - started >= 2.5  # it waited, six times the longest timeout


# --- the connection cap ------------------------------------------------------------------------


async def test_connections_over_the_cap_get_503_while_the_others_work(
    start_conveyor: StartConveyor, open_connection: Callable[..., Any]
) -> None:
    served = await start_conveyor(max_connections=4)
    admitted = [await open_connection(served) for _ in range(4)]
    for reader, writer in admitted:
        writer.write(get("/healthz"))
        assert (await read_answer(reader)).status == 200
    excess, _ = await open_connection(served)  # not even read: answered at once, closed
    refused = parse_answer(await read_to_end(excess))
    assert refused.status == 503
    assert refused.headers["retry-after"] == "1"
    assert "connections" in refused.errors()[0]
    for reader, writer in admitted:  # the admitted ones still work
        writer.write(get("/healthz"))
        assert (await read_answer(reader)).status == 200
    admitted[0][1].close()  # a slot frees up once the server sees the close
    deadline = time.monotonic() + CUT_WITHIN
    while True:
        answer = await send_and_read(served, get("/healthz", "Connection: close\r\n"))
        if answer.status == 200:
            break
        assert answer.status == 503 and time.monotonic() < deadline, answer
        await asyncio.sleep(0.05)


def test_the_default_cap_leaves_room_for_10000_waiters() -> None:
    defaults = Settings()
    assert defaults.max_connections >= 10_000
    enough = defaults.max_connections + RESERVED_DESCRIPTORS
    assert connection_cap(defaults.max_connections, enough) == defaults.max_connections
    assert connection_cap(defaults.max_connections, None) == defaults.max_connections
    assert connection_cap(defaults.max_connections, 1024) == 1024 - RESERVED_DESCRIPTORS
    assert connection_cap(50, 1024) == 50
    assert connection_cap(1000, 300) == 150  # tiny limits: half for clients


async def test_serving_raises_the_open_file_limit_to_the_hard_limit(
    start_conveyor: StartConveyor,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024, hard), hard))
    try:
        await start_conveyor()
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_repeated_events_are_reported_once_per_interval() -> None:
    reports: list[int] = []
    every = EveryInterval(reports.append, interval=0.3)
    for _ in range(6):
        every.hit()
    assert reports == [1]  # the first at once; the five others wait for the interval's end
    await asyncio.sleep(0.5)
    assert reports == [1, 5]  # reported although nothing followed
    await asyncio.sleep(0.3)
    every.hit()
    assert reports == [1, 5, 1]  # a quiet interval later: at once again


# --- protocol errors ---------------------------------------------------------------------------

MARK = "SeCrEtMaRk"
PROTOCOL_ERRORS = {
    "header-over-the-limit": (get("/healthz", f"X-Big: {MARK}{'a' * 9000}\r\n"), 431),
    "too-many-headers": (get("/healthz", "".join(f"X-{MARK}{i}: v\r\n" for i in range(200))), 431),
    "10-kb-url": (get(f"/{MARK}{'u' * 10_000}"), 414),
    "method-foo": (f"FOO /{MARK} HTTP/1.1\r\nHost: t\r\n\r\n".encode(), 400),
    "nul-in-header": (get("/healthz", f"X-Bad: {MARK}\x00\r\n"), 400),
    "bad-header-name": (get("/healthz", f"X {MARK}\x01: v\r\n"), 400),
    "content-length-and-chunked": (
        f"POST /echo HTTP/1.1\r\nHost: t\r\nX-Id: {MARK}\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n".encode(),
        400,
    ),
}


@pytest.mark.parametrize("case", PROTOCOL_ERRORS)
async def test_protocol_errors_answer_json_and_log_one_info_line(
    case: str, start_conveyor: StartConveyor, caplog: pytest.LogCaptureFixture
) -> None:
    raw, status = PROTOCOL_ERRORS[case]
    served = await start_conveyor()
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    answer = await send_and_read(served, raw)
    assert answer.status == status, answer
    answer.errors()
    assert MARK.encode() not in answer.body
    ours = [r for r in caplog.records if r.name == "gateway.http.conn_limits"]
    assert len(ours) == 1, caplog.text
    assert ours[0].levelno == logging.INFO and str(status) in ours[0].getMessage()
    assert all(r.exc_info is None and r.levelno < logging.WARNING for r in caplog.records)
    assert MARK not in caplog.text and "Traceback" not in caplog.text


async def test_the_header_limit_is_a_setting(start_conveyor: StartConveyor) -> None:
    served = await start_conveyor(max_header_bytes=16384)
    big_token = "Authorization: Bearer " + "t" * 12_000 + "\r\n"
    passed = await send_and_read(served, get("/healthz", big_token + "Connection: close\r\n"))
    assert passed.status == 200
    refused = await send_and_read(served, get("/healthz", f"X-Big: {'a' * 20_000}\r\n"))
    assert refused.status == 431 and "16384" in refused.errors()[0]
