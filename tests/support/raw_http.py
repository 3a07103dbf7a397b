"""HTTP over raw sockets, for the protocol and slow-client tests: send bytes, read answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from conveyor.serve import Served
from tests.support.responses import problem_items


async def close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a raw test connection and wait until its socket is closed. ``close`` alone only
    schedules it: a test whose loop ends first leaves the socket to the garbage collector,
    whose ResourceWarning then fails whichever test runs at that moment."""
    writer.close()
    # Reset by the server, or already gone: closed anyway.
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 5)


CUT_WITHIN = 30.0  # seconds: far more than any timeout used here, far less than a trickle


@dataclass
class Answer:
    """One HTTP answer read off a raw socket."""

    status: int
    headers: dict[str, str]
    body: bytes

    def errors(self) -> list[Any]:
        """The problem document's messages; asserts its shape and content type."""
        assert self.headers.get("content-type", "").startswith("application/problem+json"), self
        return problem_items(json.loads(self.body), self.status)


def parse_answer(data: bytes) -> Answer:
    """An HTTP answer from its raw bytes (head and whole body)."""
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split(" ")[1]), headers, body)


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    """Read one answer with a ``Content-Length`` off a kept-alive connection."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CUT_WITHIN)
    answer = parse_answer(head)
    answer.body = await reader.readexactly(int(answer.headers["content-length"]))
    return answer


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes (a reset counts as a close)."""
    try:
        return await asyncio.wait_for(reader.read(), CUT_WITHIN)
    except ConnectionResetError:
        return b""


def address(served: Served) -> tuple[str, int]:
    host, port = served.http.addresses[0][:2]
    return str(host), int(port)


async def send_and_read(served: Served, raw: bytes) -> Answer:
    """Send ``raw`` on a new connection and read its one answer up to the close."""
    reader, writer = await asyncio.open_connection(*address(served))
    try:
        writer.write(raw)
        data = await read_to_end(reader)
    finally:
        await close_writer(writer)
    assert data, "the server closed without an answer"
    return parse_answer(data)


def get(path: str, headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode()
