"""Shared fixtures: signing keys, tokens, services, and a running Conveyor in each mode.

``conveyor`` starts gateway + consumer in this test's event loop over real HTTP on a free
port, in the mode the test is parametrised with (``embedded``: SQLite + in-process delivery;
``distributed``: MongoDB wire server + RabbitMQ, with unique queue prefix and database).

The ``distributed`` marker is set here, at collection, on every test that takes a service
fixture (:data:`SERVICE_FIXTURES`) or a distributed parameter (:data:`DISTRIBUTED_PARAMS`), so
``pytest -m "not distributed"`` runs the embedded suite alone, with no service; a test that
reaches a service without the marker fails (``tests.support.services.check_marked``).

``CONVEYOR_EVENT_LOOP=uvloop`` runs every async test, so every in-process Conveyor, on uvloop
(``tests.support.loops.EVENT_LOOP``; unset: the standard asyncio loop). The ``conveyor``
processes tests start never see it (``tests.support.processes.clean_env``): they run on their
default, ``auto``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conveyor.serve import Served, serving
from shared.platform.settings import Settings
from tests.support import driver_sockets, services
from tests.support.api_client import Api, StartConveyor
from tests.support.brokers import PrivateRabbit, RabbitNode, shared_rabbitmq, start_private_rabbit
from tests.support.loops import EVENT_LOOP
from tests.support.paths import QUEUES_DIR
from tests.support.services import (
    delete_rabbit_queues,
    queue_prefix,
    require_rabbitmq,
    start_mongo_wire,
)
from tests.support.tokens import HS_SECRET, Keys

MODES = ["embedded", "distributed"]

# Fixtures that reach RabbitMQ or MongoDB, and the parameter values (fixture name, value) of
# the parametrised fixtures that do: a test with either is marked ``distributed``.
SERVICE_FIXTURES = frozenset({"mongo_url", "rabbitmq", "private_rabbitmq"})
DISTRIBUTED_PARAMS = frozenset(
    {("mode", "distributed"), ("store", "mongo"), ("make_store", "mongo"), ("delivery", "rabbitmq")}
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """pytest-asyncio's loop for every async test and fixture: ``EVENT_LOOP``'s."""
    if EVENT_LOOP == "uvloop":
        import uvloop

        return {"uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


def _is_distributed(item: pytest.Item) -> bool:
    if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params.items() if callspec is not None else ()
    return any(
        (name, value) in DISTRIBUTED_PARAMS for name, value in params if isinstance(value, str)
    )


@pytest.hookimpl(trylast=True)  # after pytest's own configure has set its unraisable hook
def pytest_configure(config: pytest.Config) -> None:
    """PyMongo's known socket leak is counted, not raised (``tests.support.driver_sockets``)."""
    driver_sockets.install()
    driver_sockets.tolerate_from_now()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if driver_sockets.dropped:
        terminalreporter.write_line(
            f"PyMongo dropped {len(driver_sockets.dropped)} socket(s) unclosed at a cancelled "
            "connect (PYTHON-5867; tests/support/driver_sockets.py): tolerated"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_distributed(item):
            item.add_marker(pytest.mark.distributed)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    services.expect_services(item.get_closest_marker("distributed") is not None)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("keys") / "rsa.pub.pem"
    path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Keys(HS_SECRET, private, path)


@pytest.fixture
def queues_dir(tmp_path: Path) -> Path:
    """A fresh copy of tests/fixtures/queues/default, which a test may add definitions to
    before starting."""
    target = tmp_path / "queues"
    shutil.copytree(QUEUES_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """A MongoDB wire server shared by the session (each test uses its own database)."""
    yield from start_mongo_wire()


@pytest.fixture(scope="session")
def private_rabbitmq() -> Iterator[PrivateRabbit]:
    """A RabbitMQ node of this session's own (started on first use), which tests may stop."""
    yield from start_private_rabbit()


@pytest.fixture
def rabbitmq(request: pytest.FixtureRequest) -> RabbitNode:
    """The RabbitMQ a test runs against: the shared broker (read and clean up only), or with
    ``@pytest.mark.parametrize("rabbitmq", ["private"], indirect=True)`` the session's
    private node (:class:`tests.support.brokers.PrivateRabbit`), for a test that stages an
    outage."""
    if getattr(request, "param", "shared") == "private":
        node: RabbitNode = request.getfixturevalue("private_rabbitmq")
        return node
    return shared_rabbitmq()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """The deployment mode a behaviour test runs in."""
    return str(request.param)


@pytest.fixture
def base_settings(
    request: pytest.FixtureRequest, mode: str, keys: Keys, tmp_path: Path, queues_dir: Path
) -> Settings:
    """Settings for ``mode``: free port, test keys, short leases, per-test isolation."""
    settings = Settings(
        host="127.0.0.1",
        port=0,
        store=f"sqlite:///{tmp_path / 'conveyor.db'}",
        handlers=queues_dir,
        jwt_secret=keys.hs_secret,
        jwt_public_key=(keys.rsa_public_path,),
        grace_seconds=5.0,
        lease_seconds=3.0,
        concurrency=8,
        sweep_interval_seconds=1.0,
        republish_after_seconds=2.0,
        drain_seconds=0.0,
    )
    if mode == "distributed":
        broker = require_rabbitmq()
        mongo = request.getfixturevalue("mongo_url")
        settings = dataclasses.replace(
            settings,
            broker=broker,
            store=mongo,
            mongo_database=f"t_{uuid.uuid4().hex[:10]}",
            queue_prefix=queue_prefix(),
        )
    return settings


@pytest.fixture
async def start_conveyor(base_settings: Settings) -> AsyncIterator[StartConveyor]:
    """Start a Conveyor (settings overridable by keyword); stopped at test end."""
    stack: list[Any] = []

    async def start(**overrides: Any) -> Served:
        cm = serving(dataclasses.replace(base_settings, **overrides))
        served = await cm.__aenter__()
        stack.append(cm)
        return served

    yield start
    # Teardown runs whether the test passed or failed; each step even if an earlier one raised.
    async with contextlib.AsyncExitStack() as cleanup:
        if base_settings.broker is not None:  # last: after every Conveyor has stopped
            names = [
                path.name.removesuffix(".queue.json")
                for path in base_settings.handlers.glob("*.queue.json")
            ]
            cleanup.push_async_callback(
                delete_rabbit_queues, base_settings.broker, base_settings.queue_prefix, names
            )
        for cm in stack:
            cleanup.push_async_exit(cm)


@pytest.fixture
async def api_for(keys: Keys) -> AsyncIterator[Callable[[Served], Api]]:
    """Make an :class:`Api` for a started Conveyor."""
    async with aiohttp.ClientSession() as session:
        yield lambda served: Api(session, served.url, keys, served)


@pytest.fixture
async def api(start_conveyor: StartConveyor, api_for: Callable[[Served], Api]) -> Api:
    """A started Conveyor with the default test settings, and a client for it."""
    return api_for(await start_conveyor())
