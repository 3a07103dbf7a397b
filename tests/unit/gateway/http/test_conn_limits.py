"""The head timer of ``gateway.http.conn_limits`` on a fake transport, for the orderings a
real socket produces only under load (tests/api/test_slow_clients.py covers real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from gateway.http.capacity import ConnectionLimits
from gateway.http.conn_limits import GuardedRunner

HEAD_SECONDS = 0.2


class RecordingTransport(asyncio.Transport):
    """Keeps what the server writes; closing only marks it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


@pytest.fixture
async def runner() -> AsyncIterator[GuardedRunner]:
    limits = ConnectionLimits(
        max_connections=10,
        header_timeout=HEAD_SECONDS,
        body_timeout=5.0,
        idle_timeout=60.0,  # far longer than the test waits: only the head timer can close
        max_header_bytes=8190,
    )
    runner = GuardedRunner(web.Application(), limits)
    await runner.setup()
    yield runner
    await runner.cleanup()


async def test_first_bytes_before_the_handler_task_starts_are_timed_as_a_head(
    runner: GuardedRunner,
) -> None:
    assert runner.server is not None
    protocol = runner.server()
    transport = RecordingTransport()
    protocol.connection_made(transport)
    # Same loop turn: on Python 3.11 aiohttp's handler task has not run its first step yet,
    # so it is not waiting for a request; a busy loop reads a new socket that early.
    protocol.data_received(b"P")
    await asyncio.sleep(HEAD_SECONDS * 3)
    assert transport.written.startswith(b"HTTP/1.1 408 "), bytes(transport.written)
    assert transport.closed
    protocol.connection_lost(None)
