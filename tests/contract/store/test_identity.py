"""The store's identity (``StoreLifecycle.identity``): created by the first open and kept in the
store, the same from every opener, different for another store.

Each case opens adapters of its own over named storages (a SQLite file, a MongoDB database), so
it can reopen one and open two at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.adapters.mongo.collection import MongoStore
from shared.adapters.sqlite.database import SqliteStore
from shared.ports import Store
from tests.support.stores import STORE_KINDS

#: A new, unopened adapter over the storage named ``name`` (one per name and test), shared
#: with other processes (as a gateway's and consumers' are).
MakeStore = Callable[[str], Store]


@pytest.fixture(params=STORE_KINDS)
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    if request.param == "sqlite":
        yield lambda name: SqliteStore(tmp_path / f"{name}.db", shared=True)
        return
    url: str = request.getfixturevalue("mongo_url")
    run = uuid.uuid4().hex[:10]
    used: set[str] = set()

    def mongo(name: str) -> Store:
        used.add(f"identity_{run}_{name}")
        return MongoStore(url, f"identity_{run}_{name}", "messages")

    yield mongo
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    for database in used:
        await client.drop_database(database)
    await client.close()


async def identity_of(store: Store) -> str:
    """Open ``store``, read its identity twice (the same), close it."""
    await store.open()
    try:
        first = await store.identity()
        assert await store.identity() == first
        return first
    finally:
        await store.close()


async def test_the_identity_is_made_once_and_kept_across_reopens(make_store: MakeStore) -> None:
    made = await identity_of(make_store("a"))
    assert len(made) == 32 and int(made, 16) >= 0, made
    assert await identity_of(make_store("a")) == made


async def test_two_stores_have_different_identities(make_store: MakeStore) -> None:
    assert await identity_of(make_store("a")) != await identity_of(make_store("b"))


async def test_concurrent_first_opens_agree_on_one_identity(make_store: MakeStore) -> None:
    # A gateway and a consumer starting together on a new store: one id wins, both see it.
    first, second = make_store("a"), make_store("a")
    await asyncio.gather(first.open(), second.open())
    try:
        assert await first.identity() == await second.identity()
    finally:
        await first.close()
        await second.close()


async def test_many_concurrent_first_opens_all_open(make_store: MakeStore) -> None:
    # Four processes starting together on each of several new stores: none may fail to open
    # (SQLite can answer "database is locked" at once, without its busy wait, while another
    # connection switches a new file to WAL or creates its schema).
    for n in range(12):
        stores = [make_store(f"new-{n}") for _ in range(4)]
        await asyncio.gather(*(store.open() for store in stores))
        try:
            assert len({await store.identity() for store in stores}) == 1
        finally:
            for store in stores:
                await store.close()
