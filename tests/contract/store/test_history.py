"""Record versions, status histories and progress reports (``shared.ports.store``:
"Versions and history", ``ProgressReports``), against both store adapters; and the SQLite
migration of a database file from before those columns."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.adapters.sqlite.database import SCHEMA, SqliteStore
from shared.domain.message import (
    HISTORY_LIMIT,
    ErrorInfo,
    History,
    MessageRecord,
    Progress,
    Status,
    Transition,
    utcnow,
)
from shared.ports import MessageRef, Outcome, Store

Q = "q"
BOOM = ErrorInfo("Boom", "it failed")


def later(seconds: float = 3600) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def expired() -> datetime:
    return utcnow() - timedelta(seconds=60)


async def fresh(store: Store) -> MessageRecord:
    record = MessageRecord.new(Q, {"n": 1})
    await store.insert(record)
    return record


async def read(store: Store, record: MessageRecord) -> MessageRecord:
    got = await store.get(Q, record.id)
    assert got is not None
    return got


def steps(record: MessageRecord) -> list[tuple[str, int, str | None]]:
    return [(t.status.value, t.attempt, t.consumer) for t in record.history]


async def test_every_status_write_bumps_the_version_and_appends_its_transition(
    store: Store,
) -> None:
    record = await fresh(store)
    got = await read(store, record)
    assert got.version == 1 and steps(got) == [("PENDING", 0, None)]
    assert (await store.claim(Q, record.id, "a", later())).record is not None
    assert await store.schedule_retry(Q, record.id, "a", BOOM, utcnow())
    assert (await store.claim(Q, record.id, "b", later())).record is not None
    assert await store.finish(Q, record.id, "b", Outcome(Status.ERROR, error=BOOM))
    redriven = await store.redrive(Q, record.id)
    assert redriven is not None and redriven.version == 6
    assert (await store.claim(Q, record.id, "c", later())).record is not None
    assert await store.release(Q, record.id, "c")
    claim = await store.claim(Q, record.id, "d", later())
    assert claim.record is not None and claim.record.version == 9
    assert await store.finish(Q, record.id, "d", Outcome(Status.COMPLETE, result={"ok": 1}))
    got = await read(store, record)
    assert got.version == 10
    assert steps(got) == [
        ("PENDING", 0, None),
        ("INPROGRESS", 1, "a"),
        ("PENDING", 1, "a"),  # the retry
        ("INPROGRESS", 2, "b"),
        ("ERROR", 2, "b"),
        ("PENDING", 0, None),  # the redrive
        ("INPROGRESS", 1, "c"),
        ("PENDING", 1, "c"),  # the release
        ("INPROGRESS", 2, "d"),
        ("COMPLETE", 2, "d"),
    ]
    times = [t.at for t in got.history]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    assert got.to_public()["history"][-1]["status"] == "COMPLETE"


async def test_writes_that_change_nothing_leave_version_and_history_alone(store: Store) -> None:
    record = await fresh(store)
    assert not await store.finish(Q, record.id, "nobody", Outcome(Status.COMPLETE))
    assert not await store.release(Q, record.id, "nobody")
    assert (await store.claim(Q, record.id, "a", later())).record is not None
    await store.renew([MessageRef(Q, record.id)], "a", later(7200))
    got = await read(store, record)
    assert got.version == 2 and len(got.history) == 2


async def test_recovery_decisions_are_transitions_without_a_consumer(store: Store) -> None:
    first, second = await fresh(store), await fresh(store)
    for record in (first, second):
        assert (await store.claim(Q, record.id, "gone", expired())).record is not None
    failed = await store.fail_abandoned(utcnow(), 2, BOOM)  # one delivery each: not yet
    assert failed == []
    released = await store.release_expired(utcnow())
    assert {r.id for r in released} == {first.id, second.id}
    for record in (first, second):
        got = await read(store, record)
        assert steps(got)[-1] == ("PENDING", 1, None) and got.version == 3
    assert (await store.claim(Q, first.id, "gone", expired())).record is not None
    failed = await store.fail_abandoned(utcnow(), 1, BOOM)
    assert [r.id for r in failed] == [first.id]
    got = await read(store, first)
    assert steps(got)[-1] == ("ERROR", 2, None) and got.version == 5


async def test_history_keeps_the_last_transitions(store: Store) -> None:
    record = await fresh(store)
    rounds = HISTORY_LIMIT // 2 + 3  # two transitions per round, plus the push
    for _ in range(rounds):
        assert (await store.claim(Q, record.id, "a", later())).record is not None
        assert await store.release(Q, record.id, "a")
    got = await read(store, record)
    assert got.version == 1 + 2 * rounds
    assert len(got.history) == HISTORY_LIMIT
    assert steps(got)[-2:] == [("INPROGRESS", rounds, "a"), ("PENDING", rounds, "a")]
    assert steps(got)[0] == ("INPROGRESS", rounds - HISTORY_LIMIT // 2 + 1, "a")


async def test_progress_is_written_only_while_held(store: Store) -> None:
    record = await fresh(store)
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    report = Progress(0.5, "half way", at)
    assert not await store.record_progress(Q, record.id, "a", report)  # PENDING
    assert (await store.claim(Q, record.id, "a", later())).record is not None
    assert not await store.record_progress(Q, record.id, "b", report)  # not the holder
    assert await store.record_progress(Q, record.id, "a", report)
    got = await read(store, record)
    assert got.progress == report and got.version == 3 and len(got.history) == 2
    assert got.to_public()["progress"] == {
        "fraction": 0.5,
        "note": "half way",
        "at": "2026-01-02T03:04:05.678Z",
    }
    assert await store.record_progress(Q, record.id, "a", Progress(1, None, at))
    assert await store.finish(Q, record.id, "a", Outcome(Status.COMPLETE))
    got = await read(store, record)
    assert got.progress == Progress(1.0, None, at) and got.version == 5  # kept when final
    assert not await store.record_progress(Q, record.id, "a", report)  # final
    assert (await read(store, record)).version == 5


async def test_a_new_run_starts_without_the_previous_progress(store: Store) -> None:
    record = await fresh(store)
    assert (await store.claim(Q, record.id, "a", later())).record is not None
    assert await store.record_progress(Q, record.id, "a", Progress(0.3, None, utcnow()))
    assert await store.schedule_retry(Q, record.id, "a", BOOM, utcnow())
    claim = await store.claim(Q, record.id, "b", later())
    assert claim.record is not None and claim.record.progress is None


#: The messages table as the first releases created it, before any added column.
OLD_COLUMNS = ("request_id TEXT", "not_before REAL", "deliveries INTEGER", "expires_at REAL")


async def test_sqlite_files_from_before_versions_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    for column in OLD_COLUMNS:
        conn.execute(f"ALTER TABLE messages ADD COLUMN {column}")
    conn.execute(
        "INSERT INTO messages (id, queue, status, request, created_at, updated_at)"
        " VALUES ('old-1', 'q', 'PENDING', '{\"n\": 1}', 1.0, 1.0)"
    )
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        old = await store.get(Q, "old-1")
        assert old is not None
        assert (old.version, old.progress, list(old.history)) == (0, None, [])
        claim = await store.claim(Q, "old-1", "a", later())
        assert claim.record is not None and claim.record.version == 1
        assert steps(claim.record) == [("INPROGRESS", 1, "a")]
    finally:
        await store.close()
    again = SqliteStore(path)  # a second open finds the columns there
    await again.open()
    try:
        got = await again.get(Q, "old-1")
        assert got is not None and got.version == 1
    finally:
        await again.close()


async def test_a_cancel_bumps_the_version_and_a_cancelled_waiting_message_records_it(
    store: Store,
) -> None:
    waiting = await fresh(store)
    done = await store.cancel(Q, waiting.id, None)
    assert done.record is not None and done.record.status is Status.CANCELLED
    got = await read(store, waiting)
    assert got.version == 2
    assert steps(got) == [("PENDING", 0, None), ("CANCELLED", 0, None)]

    running = await fresh(store)
    assert (await store.claim(Q, running.id, "a", later())).record is not None
    asked = await store.cancel(Q, running.id, None)
    assert asked.record is not None and asked.record.cancel_requested
    got = await read(store, running)
    assert got.version == 3  # the flag is a change an event stream shows
    assert steps(got) == [("PENDING", 0, None), ("INPROGRESS", 1, "a")]
    assert await store.finish(Q, running.id, "a", Outcome(Status.CANCELLED))
    got = await read(store, running)
    assert got.version == 4 and steps(got)[-1] == ("CANCELLED", 1, "a")


def test_a_history_read_from_its_wire_text_is_the_history_built_from_transitions() -> None:
    """``History.from_wire_text`` (how SQLite hands a history over, parsed only when read)
    equals the history of the same transitions, item by item and in its wire form."""
    at = datetime(2026, 12, 6, 7, 0, 0, 123000, tzinfo=UTC)
    built = History(
        (
            Transition(at, Status.PENDING, 0),
            Transition(at + timedelta(seconds=1), Status.INPROGRESS, 1, 'host:1:"quoted"'),
            Transition(at + timedelta(seconds=2), Status.COMPLETE, 1, 'host:1:"quoted"'),
        )
    )
    text = json.dumps(built.to_json())
    lazy = History.from_wire_text(text)
    assert lazy.to_json() == built.to_json()  # passed through, not parsed
    assert lazy == built and list(lazy) == list(built) and len(lazy) == 3
    assert lazy[1].consumer == 'host:1:"quoted"' and lazy[-1].status is Status.COMPLETE
    assert lazy.to_json()[0]["at"] == "2026-12-06T07:00:00.123Z"
    assert History.from_wire_text(None) == () and History.from_wire_text("[]").to_json() == []
    assert History.from_wire_text(text) != History(built[:2])
