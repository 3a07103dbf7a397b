"""``conveyor serve`` as a real process under a small open-file limit: the soft limit is
raised to the hard one, the connection cap fits what is left, 1,100 one-byte connections
under a 1,024 limit neither flood the log nor keep pushes out for good, and a real descriptor
shortage on ``accept()`` is logged once per interval, without a traceback."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import jwt
import pytest

from gateway.http.capacity import RESERVED_DESCRIPTORS
from tests.support.handler_files import exists, touch
from tests.support.paths import QUEUES_DIR
from tests.support.processes import clean_env
from tests.support.queues import add_queue
from tests.support.raw_http import close_writer
from tests.support.serve import ServeProcess
from tests.support.sockets import holds_connection
from tests.support.tokens import claims
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

SECRET = "descriptor-test-secret-" + "s" * 40
CUT_WITHIN = 30.0
Spawn = Callable[..., ServeProcess]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start ``conveyor serve`` with an open-file limit (healthy before returned)."""
    queues = tmp_path / "queues"
    shutil.copytree(QUEUES_DIR, queues, ignore=shutil.ignore_patterns("__pycache__"))
    add_queue(queues, "hogfds", handler="hogfds", roles={"roles": ["tester"]})
    started: list[ServeProcess] = []

    def start(nofile: tuple[int, int], *args: str) -> ServeProcess:
        n = len(started)
        proc = ServeProcess(
            [
                f"--handlers={queues}",
                f"--store=sqlite:///{tmp_path / f'db-{n}.sqlite'}",
                "--reload-interval-seconds=0",
                *args,
            ],
            clean_env(CONVEYOR_JWT_SECRET=SECRET),
            tmp_path / f"serve-{n}.log",
            nofile=nofile,
        )
        started.append(proc)
        proc.wait_healthy()
        return proc

    yield start
    for proc in started:
        proc.close()


def auth() -> dict[str, str]:
    token = jwt.encode(claims(["tester"], ttl=600), SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-file limit in /proc")


def test_the_soft_limit_is_raised_and_the_cap_fits_the_hard_one(spawn: Spawn) -> None:
    roomy = spawn((1024, 4096))
    assert open_files_limit(roomy.proc.pid) == (4096, 4096)
    assert f"at most {4096 - RESERVED_DESCRIPTORS} connections" in roomy.log()

    tight = spawn((1024, 1024))
    assert open_files_limit(tight.proc.pid) == (1024, 1024)
    assert f"--max-connections 16384 lowered to {1024 - RESERVED_DESCRIPTORS}" in tight.log()


async def one_byte_connection(server: ServeProcess) -> bytes | None:
    """Connect, send one byte, read until the server closes; None if the server still holds
    the connection after CUT_WITHIN seconds."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    except OSError:
        return b""  # the backlog overflowed and the client gave up: not held either
    try:
        writer.write(b"P")
        return await asyncio.wait_for(reader.read(), CUT_WITHIN)
    except ConnectionError:
        return b""
    except TimeoutError:
        # Held means the server has the connection. Under a burst the kernel can answer SYNs
        # with cookies and drop the handshake's last ACK while the accept queue is full: the
        # client believes it is connected, the server never had the connection.
        client_port = writer.get_extra_info("sockname")[1]
        return None if holds_connection(server.proc.pid, server.port, client_port) else b""
    finally:
        await close_writer(writer)


async def test_1100_one_byte_connections_under_a_1024_limit(spawn: Spawn) -> None:
    proc = spawn((1024, 1024), "--header-timeout-seconds=2")
    slow = [asyncio.ensure_future(one_byte_connection(proc)) for _ in range(1100)]
    answers = await asyncio.gather(*slow)
    assert None not in answers, f"{answers.count(None)} connections were held open"
    # b"": a 503 lost to a reset (the server closed with the client's byte unread), or a
    # connection the server never accepted
    statuses = {int(a.split(b" ")[1]) for a in answers if a}
    assert statuses <= {408, 503} and 408 in statuses, statuses
    async with aiohttp.ClientSession() as session:
        for n in range(5):  # the gateway is healthy again: pushes go through
            async with session.post(f"{proc.url}/echo", json={"n": n}, headers=auth()) as resp:
                assert resp.status == 201, await resp.text()
    log = proc.log()
    # the cap kept clients from taking the descriptors: accept() never failed
    assert "accept" not in log and "Traceback" not in log, log
    assert len(log.splitlines()) < 30, log  # a few summaries, not a line per connection


async def test_a_descriptor_shortage_on_accept_is_logged_once_per_interval(
    spawn: Spawn, tmp_path: Path
) -> None:
    # The summary hooks asyncio's accept loop (gateway.http.capacity); uvloop, the default
    # where installed, handles a failed accept() itself (docs/operations.md).
    proc = spawn((1024, 1024), "--event-loop=asyncio")
    marker, release = tmp_path / "holding", tmp_path / "release"
    async with aiohttp.ClientSession() as session:
        body = {"marker": str(marker), "release": str(release)}
        async with session.post(f"{proc.url}/hogfds", json=body, headers=auth()) as resp:
            assert resp.status == 201, await resp.text()
        await wait_until(lambda: exists(marker), "the handler to hold the descriptors", 10)
    # Closing that session freed a descriptor: the handler takes it too.
    took = marker.with_name(marker.name + ".took")
    await wait_until(lambda: exists(took), "the handler to take the freed descriptor", 10)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
        # New connections only: they wait in the kernel's backlog until accept() works again.
        waiting = [asyncio.ensure_future(fresh.get(f"{proc.url}/healthz")) for _ in range(10)]
        # asyncio retries accept() every second: the first failure is logged at once, the
        # next ones only counted, and summed up in one line when the interval ends.
        await wait_until(lambda: len(reports(proc)) == 2, "the summary of the next failures", 30)
        assert not any(w.done() for w in waiting)  # ...which kept every connection out
        touch(release)
        for response in await asyncio.wait_for(asyncio.gather(*waiting), CUT_WITHIN):
            assert response.status == 200
            response.release()
    log = proc.log()
    first, summary = reports(proc)  # one line per interval, not one per failure
    assert "cannot accept connections: Too many open files (1 failed accept()" in first, log
    failed = int(summary.split("Too many open files (")[1].split(" ")[0])
    assert failed >= 5, summary  # a failure a second through the 10 s interval
    assert "Traceback" not in log and "out of system resource" not in log, log


def reports(proc: ServeProcess) -> list[str]:
    """The log's lines about failed ``accept()`` calls."""
    return [line for line in proc.log().splitlines() if "accept" in line]
