"""Store adapters for store-level tests: one fixture over SQLite and MongoDB."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from shared.adapters.mongo.collection import MongoStore
from shared.adapters.sqlite.database import SqliteStore
from shared.ports import Store

STORE_KINDS = ["sqlite", "mongo"]


@dataclass(frozen=True)
class Raw:
    """A test database: its URL, name, and a driver handle on its messages collection."""

    url: str
    database: str
    messages: AsyncCollection[dict[str, Any]]


@contextlib.asynccontextmanager
async def own_database(mongo_url: str) -> AsyncIterator[Raw]:
    """A database of the caller's own on the session's wire server, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    database = f"contract_{uuid.uuid4().hex[:12]}"
    try:
        yield Raw(mongo_url, database, client[database]["messages"])
    finally:
        await client.drop_database(database)
        await client.close()


@contextlib.asynccontextmanager
async def open_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, **mongo_kw: Any
) -> AsyncIterator[Store]:
    """An open store of ``kind``: SQLite in ``tmp_path``, or MongoDB in a database of its own
    on the session's wire server (the ``mongo_url`` fixture), dropped afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        adapter: Store
        if kind == "sqlite":
            adapter = SqliteStore(tmp_path / "conveyor.db")
        else:
            db = await stack.enter_async_context(own_database(request.getfixturevalue("mongo_url")))
            adapter = MongoStore(db.url, db.database, "messages", **mongo_kw)
        await adapter.open()
        stack.push_async_callback(adapter.close)
        yield adapter
