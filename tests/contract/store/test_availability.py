"""Availability: a closed store refuses everything with ``StoreUnavailable``, an unreachable
or vanished MongoDB fails fast instead of hanging, and each adapter implements every port
method itself."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import Generator, Iterator
from types import SimpleNamespace
from typing import cast

import pymongo
import pytest

from shared.adapters.mongo.collection import MongoStore, client_options
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import utcnow
from shared.ports import (
    Claims,
    Keys,
    ProgressReports,
    Records,
    Recovery,
    ScheduleStates,
    Store,
    StoreUnavailable,
)
from tests.support import driver_sockets
from tests.support.services import start_mongo_wire
from tests.support.sockets import free_port
from tests.support.stores import Q, Raw, collect, inserted, later, new


def fast_fail_url(url: str) -> str:
    return url + "&serverSelectionTimeoutMS=300&connectTimeoutMS=300&socketTimeoutMS=2000"


# --- availability ----------------------------------------------------------------------


async def test_ping_and_closed_store(store: Store) -> None:
    await store.ping()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.get(Q, "x")
    with pytest.raises(StoreUnavailable):
        await store.insert(new())
    with pytest.raises(StoreUnavailable):
        await collect(store.pending())


@pytest.mark.parametrize("adapter", [SqliteStore, MongoStore])
def test_every_port_method_is_the_adapters_own(adapter: type[Store]) -> None:
    # A store's parts subclass the ports they implement; a protocol's empty method must never
    # stand in for the adapter's (as it would for a part listed before the one implementing it).
    for port in (Records, Claims, Recovery, Keys, ProgressReports, ScheduleStates):
        for name, member in vars(port).items():
            if callable(member) and not name.startswith("_"):
                module = getattr(adapter, name).__module__
                assert module.startswith("shared.adapters."), f"{adapter.__name__}.{name}"


def test_client_options_respect_the_url() -> None:
    assert client_options("mongodb://h/") == {
        "serverSelectionTimeoutMS": 3000,
        "connectTimeoutMS": 3000,
        "socketTimeoutMS": 10000,
    }
    opts = client_options("mongodb://a,b/db?replicaSet=r&serverselectiontimeoutms=50")
    assert "serverSelectionTimeoutMS" not in opts and opts["socketTimeoutMS"] == 10000
    assert "socketTimeoutMS" not in client_options("mongodb://h/?timeoutMS=100")


async def test_mongo_unreachable_fails_fast() -> None:
    url = fast_fail_url(f"mongodb://127.0.0.1:{free_port()}/?directConnection=true")
    store = MongoStore(url, "db", "messages")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.ping()  # open failed: not open
    assert time.monotonic() - started < 5
    await store.close()


@pytest.mark.skipif(
    not driver_sockets.connects_without_blocking(),
    reason="this PyMongo connects blocking (before 4.11): its connect is never cancelled",
)
async def test_a_client_closed_mid_connect_drops_the_socket_the_suite_tolerates() -> None:
    # PyMongo's known leak (tests/support/driver_sockets.py), made to happen: a listener whose
    # accept queue is full drops the monitor's SYN, so its connect hangs; open() gives up after
    # serverSelectionTimeoutMS and closes the client, cancelling the monitor mid-connect. The
    # dropped socket must not fail this test (pytest checks unraisables at its teardown).
    with socket.socket() as listener, socket.socket() as queued:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        queued.setblocking(False)
        queued.connect_ex(("127.0.0.1", port))  # the one connection the queue holds
        await asyncio.sleep(0.05)
        url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        url += "&serverSelectionTimeoutMS=300&connectTimeoutMS=10000"
        before = len(driver_sockets.dropped)
        with pytest.raises(StoreUnavailable):
            await MongoStore(url, "db", "messages").open()
        await asyncio.sleep(0.1)
        gc.collect()
        if pymongo.version_tuple <= (4, 20, 1):  # the newest release, without a fix
            assert len(driver_sockets.dropped) > before


def test_only_pymongos_own_sockets_are_tolerated() -> None:
    assert driver_sockets.creator().socket.socket is driver_sockets.DriverSocket
    reached: list[object] = []
    hook = driver_sockets.tolerating(reached.append)
    with driver_sockets.DriverSocket() as driver, socket.socket() as other:
        before = len(driver_sockets.dropped)
        hook(SimpleNamespace(object=driver, exc_value=ResourceWarning("unclosed")))
        assert (len(driver_sockets.dropped), reached) == (before + 1, [])
        driver_sockets.dropped.pop()
        unclosed_other = SimpleNamespace(object=other, exc_value=ResourceWarning("unclosed"))
        driver_error = SimpleNamespace(object=driver, exc_value=ValueError("another error"))
        hook(unclosed_other)
        hook(driver_error)
        assert reached == [unclosed_other, driver_error]  # raised as before


@pytest.fixture
def own_mongo() -> Iterator[tuple[str, Generator[str, None, None]]]:
    """A wire server of this test's own, so the test can stop it."""
    server = cast(Generator[str, None, None], start_mongo_wire())
    url = next(server)
    yield url, server
    server.close()


@pytest.mark.distributed  # its own wire server (not the session's mongo_url)
async def test_mongo_server_gone(own_mongo: tuple[str, Generator[str, None, None]]) -> None:
    url, server = own_mongo
    store = MongoStore(fast_fail_url(url), "gone", "messages")
    await store.open()
    (record,) = await inserted(store)
    await store.ping()
    server.close()  # stops the server
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.get(Q, record.id)
    with pytest.raises(StoreUnavailable):
        await store.insert(new())
    with pytest.raises(StoreUnavailable):
        await store.claim(Q, record.id, "a", later())
    with pytest.raises(StoreUnavailable):
        await collect(store.unpublished(utcnow()))
    assert time.monotonic() - started < 5  # bounded by serverSelectionTimeoutMS, not hung
    await store.close()


async def test_mongo_reopen_is_idempotent(mongo_db: Raw) -> None:
    first = MongoStore(mongo_db.url, mongo_db.database, "messages")
    await first.open()
    (record,) = await inserted(first)
    await first.close()
    second = MongoStore(mongo_db.url, mongo_db.database, "messages")
    await second.open()
    assert (await second.get(Q, record.id)) is not None
    await second.close()
    indexes = await mongo_db.messages.index_information()
    keys = {tuple(k for k, _ in info["key"]) for info in indexes.values()}
    assert keys >= {("status", "lease_until"), ("status", "published", "created_at", "_id")}
