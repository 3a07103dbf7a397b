"""Test services: RabbitMQ reachability, the MongoDB wire server (mongoeco), and the names
of what tests create on the shared broker.

Locally a missing service skips the distributed tests with the reason; with ``CI=true`` it
fails the run instead (a green CI must mean the distributed suite ran). Only tests marked
``distributed`` may reach a service (:func:`check_marked`; conftest tells
:func:`expect_services` which test runs), so ``pytest -m "not distributed"`` never needs one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from shared.adapters.rabbitmq.delays import TIERS_MS, tier_queue
from tests.support.paths import REPO
from tests.support.sockets import free_port, port_open
from tests.support.waiting import wait_until_sync

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
MONGO_PYTHON_ENV = "MONGOECO_PYTHON"
WIRE_SCRIPT = Path(__file__).with_name("mongo_wire.py")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHECKOUT_TAG_FILE = REPO / ".test-queue-tag"

_running_a_distributed_test: bool | None = None  # None: not inside a pytest test


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"required test service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def expect_services(distributed: bool) -> None:
    """Called before each test: whether it is marked ``distributed`` (may use services)."""
    global _running_a_distributed_test
    _running_a_distributed_test = distributed


def check_marked(service: str) -> None:
    """Fail the running test if it reaches ``service`` without the ``distributed`` marker."""
    if _running_a_distributed_test is False:
        pytest.fail(
            f"this test uses {service} but is not marked distributed (mark it, or have it "
            "take a service fixture or a distributed mode parameter: see tests/conftest.py)",
            pytrace=False,
        )


def require_rabbitmq() -> str:
    """The shared RabbitMQ's URL, or skip/fail if nothing listens there."""
    check_marked("RabbitMQ")
    if not port_open("127.0.0.1", 5672):
        unavailable("RabbitMQ is not running on 127.0.0.1:5672")
    return RABBITMQ_URL


@functools.cache
def checkout_tag() -> str:
    """A random tag of this checkout (kept in a git-ignored file), so that queue names say
    which checkout made them; the same in every run."""
    if not CHECKOUT_TAG_FILE.exists():
        draft = CHECKOUT_TAG_FILE.with_name(f"{CHECKOUT_TAG_FILE.name}.{os.getpid()}")
        draft.write_text(uuid.uuid4().hex[:8] + "\n")
        with contextlib.suppress(FileExistsError):  # another run was first: take its tag
            os.link(draft, CHECKOUT_TAG_FILE)  # whole or not at all
        draft.unlink()
    return CHECKOUT_TAG_FILE.read_text().strip()


def run_prefix(kind: str = "test") -> str:
    """``<kind>.<checkout tag>.<pid>.``: what every queue this test run declares starts with."""
    return f"{kind}.{checkout_tag()}.{os.getpid()}."


def queue_prefix(kind: str = "test") -> str:
    """A queue prefix of one test's own: :func:`run_prefix` and a random part."""
    return f"{run_prefix(kind)}{uuid.uuid4().hex[:10]}."


def mongo_python() -> str | None:
    """The Python (>= 3.13, with mongoeco[wire]) that runs the wire server."""
    return os.environ.get(MONGO_PYTHON_ENV)


def start_mongo_wire() -> Iterator[str]:
    """Run the MongoDB wire server in a subprocess; yield its mongodb:// URL."""
    check_marked("MongoDB")
    python = mongo_python()
    if not python or not Path(python).exists():
        unavailable(
            f"no MongoDB wire server: set {MONGO_PYTHON_ENV} to a Python 3.13 with "
            "mongoeco[wire] (the README's test command does)"
        )
    port = free_port()
    proc = subprocess.Popen(
        [python, str(WIRE_SCRIPT), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )

    def listening() -> bool:
        assert proc.poll() is None, f"it exited with {proc.returncode}"
        return port_open("127.0.0.1", port, 0.2)

    try:
        try:
            wait_until_sync(listening, f"the MongoDB wire server on :{port}", 30, interval=0.1)
        except AssertionError as exc:
            unavailable(f"the MongoDB wire server did not start: {exc}")
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def delete_rabbit_queues(url: str, prefix: str, names: list[str]) -> None:
    """Delete ``<prefix><name>``, its ``.dead`` and ``.retry.<ms>`` queues for each name, the
    prefix's exchanges and its marker queue (``shared.adapters.rabbitmq.identity``).

    Quorum queues each hold file handles in RabbitMQ; hundreds of leftovers starve its
    socket allowance and new connections hang, so every test removes what it declared.
    """
    import aio_pika

    from shared.adapters.rabbitmq.identity import marker_queue

    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for name in names:
            for queue in (f"{prefix}{name}", f"{prefix}{name}.dead"):
                await channel.queue_delete(queue)
            for tier in TIERS_MS:  # retry delay queues (deleting a missing queue is a no-op)
                await channel.queue_delete(tier_queue(f"{prefix}{name}", tier))
        await channel.exchange_delete(f"{prefix}events")  # completion events
        await channel.exchange_delete(f"{prefix}control")  # cancel signals
        await channel.queue_delete(marker_queue(prefix))  # the prefix's binding to a store
