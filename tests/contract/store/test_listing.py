"""``Store.list_records`` and result expiry (``Outcome.expires_at``), over both store adapters.

The ``store`` fixture (conftest.py): a SQLite file in tmp_path, or a database of its own on
the session's MongoDB wire server.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.adapters.mongo.collection import MongoStore
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import MessageRecord, Status, utcnow
from shared.ports import ListCursor, Outcome, Store
from tests.support.stores import Raw
from tests.support.waiting import wait_until

BASE = datetime(2024, 1, 1, tzinfo=UTC)
LEASE = timedelta(hours=1)


def record(queue: str, seconds: float, message_id: str | None = None) -> MessageRecord:
    at = BASE + timedelta(seconds=seconds)
    made = MessageRecord.new(queue, {"at": seconds})
    made = replace(made, created_at=at, updated_at=at)
    return replace(made, id=message_id) if message_id else made


async def finish(store: Store, rec: MessageRecord, outcome: Outcome) -> None:
    claim = await store.claim(rec.queue, rec.id, "me", utcnow() + LEASE)
    assert claim.record is not None
    assert await store.finish(rec.queue, rec.id, "me", outcome)


def ids(records: list[MessageRecord]) -> list[str]:
    return [r.id for r in records]


async def test_list_is_newest_first_with_id_as_tie_break(store: Store) -> None:
    # b1/b2/b3 share one created_at: ordered by id, descending.
    recs = [
        record("q", 1, "a"),
        record("q", 3, "b1"),
        record("q", 3, "b3"),
        record("q", 3, "b2"),
        record("q", 2, "c"),
        record("other", 5, "z"),
    ]
    for rec in recs:
        await store.insert(rec)
    listed = await store.list_records("q", None, 10, None)
    assert ids(listed) == ["b3", "b2", "b1", "c", "a"]
    assert listed[0] == recs[2]  # whole records, as get() gives them
    assert await store.list_records("nothing", None, 10, None) == []


async def test_list_pages_with_a_keyset_cursor(store: Store) -> None:
    for n in range(7):
        await store.insert(record("q", n // 2, f"m{n}"))  # pairs share a created_at
    expected = ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]
    seen: list[str] = []
    before: ListCursor | None = None
    while True:
        page = await store.list_records("q", None, 3, before)
        seen += ids(page)
        if len(page) < 3:
            break
        before = ListCursor(page[-1].created_at, page[-1].id)
    assert seen == expected
    # A cursor in the middle of a tie continues inside the tie.
    tie = await store.list_records("q", None, 10, ListCursor(BASE + timedelta(seconds=2), "m5"))
    assert ids(tie) == ["m4", "m3", "m2", "m1", "m0"]


async def test_list_filters_by_status(store: Store) -> None:
    recs = [record("q", n) for n in range(5)]
    for rec in recs:
        await store.insert(rec)
    await finish(store, recs[1], Outcome(Status.COMPLETE, {"ok": 1}))
    await finish(store, recs[3], Outcome(Status.ERROR))
    await store.claim("q", recs[4].id, "me", utcnow() + LEASE)
    assert ids(await store.list_records("q", Status.ERROR, 10, None)) == [recs[3].id]
    assert ids(await store.list_records("q", Status.COMPLETE, 10, None)) == [recs[1].id]
    assert ids(await store.list_records("q", Status.INPROGRESS, 10, None)) == [recs[4].id]
    pending = await store.list_records("q", Status.PENDING, 10, None)
    assert ids(pending) == [recs[2].id, recs[0].id]
    first = await store.list_records("q", Status.PENDING, 1, None)
    assert ids(first) == [recs[2].id]
    after = ListCursor(first[0].created_at, first[0].id)
    assert ids(await store.list_records("q", Status.PENDING, 1, after)) == [recs[0].id]


async def test_finish_keeps_records_without_expiry(store: Store) -> None:
    rec = record("q", 0)
    await store.insert(rec)
    await finish(store, rec, Outcome(Status.COMPLETE, 1))
    await store.delete_expired(utcnow() + timedelta(days=3650))
    assert await store.get("q", rec.id) is not None


async def test_sqlite_sweep_deletes_expired_final_records_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "conveyor.db")
    await store.open()
    try:
        now = utcnow()
        done, later, kept, pending = (record("q", n) for n in range(4))
        for rec in (done, later, kept, pending):
            await store.insert(rec)
        await finish(
            store, done, Outcome(Status.COMPLETE, 1, expires_at=now + timedelta(seconds=5))
        )
        await finish(store, later, Outcome(Status.ERROR, expires_at=now + timedelta(seconds=60)))
        await finish(store, kept, Outcome(Status.COMPLETE, 2))
        assert await store.delete_expired(now) == 0
        assert await store.delete_expired(now + timedelta(seconds=10)) == 1
        assert await store.get("q", done.id) is None
        for rec in (later, kept, pending):
            assert await store.get("q", rec.id) is not None
        assert await store.delete_expired(now + timedelta(days=1)) == 1
        assert await store.get("q", later.id) is None
        assert await store.get("q", kept.id) is not None
    finally:
        await store.close()


async def test_sqlite_redrive_clears_the_expiry(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "conveyor.db")
    await store.open()
    try:
        rec = record("q", 0)
        await store.insert(rec)
        await finish(store, rec, Outcome(Status.ERROR, expires_at=utcnow()))
        assert await store.redrive("q", rec.id) is not None
        assert await store.delete_expired(utcnow() + timedelta(days=1)) == 0
        assert await store.get("q", rec.id) is not None
    finally:
        await store.close()


async def test_sqlite_open_adds_the_expiry_column_to_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TABLE messages (id TEXT PRIMARY KEY, queue TEXT NOT NULL,"
            " status TEXT NOT NULL, request TEXT NOT NULL, result TEXT, error TEXT,"
            " created_at REAL NOT NULL, updated_at REAL NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0, owner TEXT, lease_until REAL,"
            " published INTEGER NOT NULL DEFAULT 0)"
        )
        conn.commit()
    store = SqliteStore(path)
    await store.open()
    try:
        rec = record("q", 0)
        await store.insert(rec)
        await finish(store, rec, Outcome(Status.COMPLETE, 1, expires_at=utcnow()))
        assert await store.delete_expired(utcnow() + timedelta(seconds=1)) == 1
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
    assert "expires_at" in columns


@pytest.fixture
async def mongo_store(mongo_db: Raw) -> AsyncIterator[MongoStore]:
    store = MongoStore(mongo_db.url, mongo_db.database, "messages")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_mongo_has_a_ttl_index_on_expires_at(mongo_store: MongoStore, mongo_db: Raw) -> None:
    again = MongoStore(mongo_db.url, mongo_db.database, "messages")
    await again.open()  # creating the indexes again is fine
    await again.close()
    info = await mongo_db.messages.index_information()
    ttl = [spec for spec in info.values() if spec["key"] == [("expires_at", 1)]]
    assert len(ttl) == 1
    assert ttl[0]["expireAfterSeconds"] == 0


async def test_mongo_finish_stores_the_expiry_date(mongo_store: MongoStore, mongo_db: Raw) -> None:
    dated, undated = record("q", 0), record("q", 1)
    for rec in (dated, undated):
        await mongo_store.insert(rec)
    when = datetime(2999, 1, 1, tzinfo=UTC)
    await finish(mongo_store, dated, Outcome(Status.COMPLETE, 1, expires_at=when))
    await finish(mongo_store, undated, Outcome(Status.COMPLETE, 2))
    doc = await mongo_db.messages.find_one({"_id": dated.id})
    assert doc is not None and doc["expires_at"].replace(tzinfo=UTC) == when
    doc = await mongo_db.messages.find_one({"_id": undated.id})
    assert doc is not None and doc.get("expires_at") is None
    assert await mongo_store.redrive("q", dated.id) is None  # COMPLETE: not redriven
    await finish_error_and_redrive(mongo_store, mongo_db)


async def finish_error_and_redrive(store: MongoStore, db: Raw) -> None:
    rec = record("q", 2)
    await store.insert(rec)
    await finish(store, rec, Outcome(Status.ERROR, expires_at=datetime(2999, 1, 1, tzinfo=UTC)))
    assert await store.redrive("q", rec.id) is not None
    doc = await db.messages.find_one({"_id": rec.id})
    assert doc is not None and doc.get("expires_at") is None  # PENDING again: never expires


@pytest.mark.slow
async def test_mongo_removes_an_expired_record_by_itself(
    mongo_store: MongoStore, mongo_db: Raw
) -> None:
    rec = record("q", 0)
    await mongo_store.insert(rec)
    await finish(mongo_store, rec, Outcome(Status.COMPLETE, 1, expires_at=utcnow()))

    async def removed() -> bool:
        return await mongo_store.get("q", rec.id) is None

    # The TTL monitor runs every 60 s.
    await wait_until(removed, "the TTL index to remove the expired record", 75, interval=1)
