"""Test services: RabbitMQ reachability and the MongoDB wire server (mongoeco).

Locally a missing service skips the distributed tests with the reason; with ``CI=true`` it
fails the run instead (a green CI must mean the distributed suite ran).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.delivery.delays import TIERS_MS, tier_queue

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
MONGO_PYTHON_ENV = "MONGOECO_PYTHON"
WIRE_SCRIPT = Path(__file__).with_name("mongo_wire.py")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"required test service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_rabbitmq() -> str:
    """The RabbitMQ URL, or skip/fail if nothing listens there."""
    if not port_open("127.0.0.1", 5672):
        unavailable("RabbitMQ is not running on 127.0.0.1:5672")
    return RABBITMQ_URL


def mongo_python() -> str | None:
    """The Python (>= 3.13, with mongoeco[wire]) that runs the wire server."""
    return os.environ.get(MONGO_PYTHON_ENV)


def start_mongo_wire() -> Iterator[str]:
    """Run the MongoDB wire server in a subprocess; yield its mongodb:// URL."""
    python = mongo_python()
    if not python or not Path(python).exists():
        unavailable(
            f"no MongoDB wire server: set {MONGO_PYTHON_ENV} to a Python 3.13 with "
            "mongoeco[wire] (the README's test command does)"
        )
        return
    port = free_port()
    proc = subprocess.Popen(
        [python, str(WIRE_SCRIPT), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port, 0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                unavailable("the MongoDB wire server did not start")
            time.sleep(0.1)
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def delete_rabbit_queues(url: str, prefix: str, names: list[str]) -> None:
    """Delete ``<prefix><name>``, its ``.dead`` and ``.retry.<ms>`` queues for each name.

    Quorum queues each hold file handles in RabbitMQ; hundreds of leftovers starve its
    socket allowance and new connections hang, so every test removes what it declared.
    """
    import aio_pika

    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for name in names:
            for queue in (f"{prefix}{name}", f"{prefix}{name}.dead"):
                await channel.queue_delete(queue)
            for tier in TIERS_MS:  # retry delay queues (deleting a missing queue is a no-op)
                await channel.queue_delete(tier_queue(f"{prefix}{name}", tier))
        await channel.exchange_delete(f"{prefix}events")  # completion events


def delete_leftover_test_queues(prefixes: tuple[str, ...] = ("test.", "ptest.")) -> int:
    """Delete queues left by earlier, killed test runs (via the management API, if on)."""
    import base64
    import json
    import urllib.parse
    import urllib.request

    if not port_open("127.0.0.1", 15672):
        return 0
    headers = {"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()}
    api = "http://127.0.0.1:15672/api/queues"
    listing = urllib.request.Request(f"{api}?columns=name,consumers", headers=headers)
    try:
        with urllib.request.urlopen(listing, timeout=30) as resp:
            queues = json.loads(resp.read())
    except OSError:  # best effort: the per-test clean-up is what keeps RabbitMQ healthy
        return 0
    doomed = [
        q["name"] for q in queues if q["name"].startswith(prefixes) and not q.get("consumers")
    ]
    for name in doomed:
        quoted = urllib.parse.quote(name, safe="")
        request = urllib.request.Request(f"{api}/%2F/{quoted}", method="DELETE", headers=headers)
        try:
            urllib.request.urlopen(request, timeout=30).close()
        except OSError:  # HTTPError included: gone meanwhile, or still starting
            continue
    return len(doomed)
