"""``Store.counts`` and the ``request_id`` field, over both store adapters.

The ``store`` fixture (conftest.py): a SQLite file in tmp_path, or a database of its own on
the session's MongoDB wire server.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import MessageRecord, Status, utcnow
from shared.ports import Outcome, Store

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def record(queue: str, minutes: int, request_id: str | None = None) -> MessageRecord:
    at = BASE + timedelta(minutes=minutes)
    made = MessageRecord.new(queue, {"n": minutes}, request_id=request_id)
    return replace(made, created_at=at, updated_at=at)


async def test_counts_empty(store: Store) -> None:
    assert await store.counts() == {}


async def test_counts_by_queue_and_status(store: Store) -> None:
    a1, a2, a3 = record("a", 5), record("a", 1), record("a", 3)
    b1, b2 = record("b", 2), record("b", 4)
    for rec in (a1, a2, a3, b1, b2):
        await store.insert(rec)
    # a2 (the oldest on a) runs and completes; b1 runs and stays INPROGRESS; b2 fails.
    lease = utcnow() + timedelta(hours=1)
    await store.claim("a", a2.id, "me", lease)
    assert await store.finish("a", a2.id, "me", Outcome(Status.COMPLETE, {"ok": 1}))
    await store.claim("b", b1.id, "me", lease)
    await store.claim("b", b2.id, "me", lease)
    assert await store.finish("b", b2.id, "me", Outcome(Status.ERROR))

    counts = await store.counts()
    assert set(counts) == {"a", "b"}
    assert counts["a"].by_status == {Status.PENDING: 2, Status.COMPLETE: 1}
    assert counts["b"].by_status == {Status.INPROGRESS: 1, Status.ERROR: 1}
    oldest = counts["a"].oldest_pending
    assert oldest is not None and abs(oldest - a3.created_at) < timedelta(milliseconds=1)
    assert counts["b"].oldest_pending is None

    await store.delete("a", a1.id)
    await store.delete("a", a3.id)
    after = await store.counts()
    assert after["a"].by_status == {Status.COMPLETE: 1}
    assert after["a"].oldest_pending is None


async def test_request_id_round_trip(store: Store) -> None:
    with_id, without = record("a", 1, request_id="req-123"), record("a", 2)
    await store.insert(with_id)
    await store.insert(without)
    got = await store.get("a", with_id.id)
    assert got is not None and got.request_id == "req-123"
    assert got.to_public()["request_id"] == "req-123"
    plain = await store.get("a", without.id)
    assert plain is not None and plain.request_id is None
    claimed = await store.claim("a", with_id.id, "me", utcnow() + timedelta(hours=1))
    assert claimed.record is not None and claimed.record.request_id == "req-123"


async def test_sqlite_file_from_before_request_id_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, queue TEXT NOT NULL, status TEXT NOT NULL,"
        " request TEXT NOT NULL, result TEXT, error TEXT, created_at REAL NOT NULL,"
        " updated_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, owner TEXT,"
        " lease_until REAL, published INTEGER NOT NULL DEFAULT 0)"
    )
    conn.execute(
        "INSERT INTO messages (id, queue, status, request, created_at, updated_at)"
        " VALUES ('old-1', 'a', 'PENDING', '{\"x\": 1}', 1700000000.0, 1700000000.0)"
    )
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        old = await store.get("a", "old-1")
        assert old is not None and old.request == {"x": 1} and old.request_id is None
        new = record("a", 1, request_id="r-new")
        await store.insert(new)
        got = await store.get("a", new.id)
        assert got is not None and got.request_id == "r-new"
        assert (await store.counts())["a"].by_status == {Status.PENDING: 2}
    finally:
        await store.close()
    reopened = SqliteStore(path)  # a second open finds the column and adds nothing
    await reopened.open()
    await reopened.close()


async def test_finished_since_counts_final_records_by_their_finish_time(store: Store) -> None:
    assert await store.finished_since(BASE) == {}
    a1, a2, a3, b1, b2 = (
        record(q, n) for q, n in [("a", 1), ("a", 2), ("a", 3), ("b", 4), ("b", 5)]
    )
    for rec in (a1, a2, a3, b1, b2):
        await store.insert(rec)
    lease = utcnow() + timedelta(hours=1)
    before = utcnow()
    for queue, rec, status in [("a", a1, Status.COMPLETE), ("a", a2, Status.ERROR)]:
        await store.claim(queue, rec.id, "me", lease)
        assert await store.finish(queue, rec.id, "me", Outcome(status))
    await store.claim("b", b1.id, "me", lease)  # INPROGRESS: not finished
    await store.claim("b", b2.id, "me", lease)
    assert await store.finish("b", b2.id, "me", Outcome(Status.COMPLETE, {"ok": True}))
    # Created long ago (BASE), finished now: it is the finish time that counts.
    assert await store.finished_since(before) == {
        "a": {Status.COMPLETE: 1, Status.ERROR: 1},
        "b": {Status.COMPLETE: 1},
    }
    assert await store.finished_since(utcnow() + timedelta(seconds=5)) == {}
    # A redriven record is no longer finished.
    assert await store.redrive("a", a2.id) is not None
    assert await store.finished_since(before) == {
        "a": {Status.COMPLETE: 1},
        "b": {Status.COMPLETE: 1},
    }
