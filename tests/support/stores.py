"""Store adapters for the store contract (tests/contract/store/): opening one of each kind, a
MongoDB database of a test's own, and records to put in them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from shared.adapters.mongo.collection import MongoStore
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import Json, MessageRecord, Status, utcnow
from shared.ports import MessageRef, Store

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


# --- records for the contract ---------------------------------------------------------

#: The queue the contract's records are in.
Q = "q"


def new(
    request: Json = None, *, at: datetime | None = None, mid: str | None = None
) -> MessageRecord:
    record = MessageRecord.new(Q, {"n": 1} if request is None else request, mid)
    return replace(record, created_at=at, updated_at=at) if at else record


async def inserted(store: Store, count: int = 1, **kw: Any) -> list[MessageRecord]:
    records = [new(**kw) for _ in range(count)]
    for record in records:
        await store.insert(record)
    return records


def later(seconds: float = 3600) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def expired() -> datetime:
    return utcnow() - timedelta(seconds=60)


async def status_of(store: Store, record: MessageRecord) -> Status | None:
    got = await store.get(record.queue, record.id)
    return got.status if got else None


async def collect(refs: AsyncIterator[MessageRef]) -> list[str]:
    return [ref.id async for ref in refs]
