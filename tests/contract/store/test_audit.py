"""``Store``'s audit log (``shared.ports.Audit``), over both store adapters: entries come back
as written, newest first with the id as tie-break, filtered by queues, paged by a cursor, and
trimmed by time (the retention, with the time given, not read from the clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import shared.adapters.sqlite.audit as sqlite_audit
from shared.domain.audit_entry import AuditAction, AuditEntry, AuditTarget
from shared.ports import ListCursor, Store

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def entry(
    seconds: float, entry_id: str, queue: str = "q", action: AuditAction = AuditAction.REDRIVE
) -> AuditEntry:
    at = BASE + timedelta(seconds=seconds)
    return AuditEntry("alice", action, queue, "m-1", 1, at=at, id=entry_id)


async def written(store: Store, *entries: AuditEntry) -> None:
    for one in entries:
        await store.record_audit(one)


def ids(entries: list[AuditEntry]) -> list[str]:
    return [e.id for e in entries]


async def test_an_entry_reads_back_as_written_with_every_kind_of_target(store: Store) -> None:
    bulk: AuditTarget = {
        "status": "ERROR",
        "created_before": "2026-01-01T00:00:00.000Z",
        "limit": 10,
    }
    entries = [
        AuditEntry("alice", AuditAction.REDRIVE, "q", "m-1", 1, at=BASE, id="a"),
        AuditEntry(
            None, AuditAction.BULK_RETRY, "q", bulk, 7, at=BASE + timedelta(seconds=1), id="b"
        ),
        AuditEntry("bob", AuditAction.PAUSE, "q", None, 0, at=BASE + timedelta(seconds=2), id="c"),
    ]
    await written(store, *entries)
    assert await store.list_audit(None, 10, None) == entries[::-1]


async def test_newest_first_with_id_as_tie_break_across_queues(store: Store) -> None:
    await written(store, entry(1, "a"), entry(3, "b1", "other"), entry(3, "b2"), entry(2, "c"))
    assert ids(await store.list_audit(None, 10, None)) == ["b2", "b1", "c", "a"]


async def test_only_the_queues_asked_for(store: Store) -> None:
    await written(store, entry(1, "a", "q"), entry(2, "b", "r"), entry(3, "c", "s"))
    assert ids(await store.list_audit(["q", "s"], 10, None)) == ["c", "a"]
    assert ids(await store.list_audit(["r"], 10, None)) == ["b"]
    assert await store.list_audit([], 10, None) == []
    assert await store.list_audit(["nobody"], 10, None) == []


async def test_pages_continue_strictly_after_the_cursor(store: Store) -> None:
    await written(store, *(entry(s, f"e{s}") for s in range(5)), entry(2, "e2b"))
    first = await store.list_audit(None, 3, None)
    assert ids(first) == ["e4", "e3", "e2b"]
    last = first[-1]
    second = await store.list_audit(None, 3, ListCursor(last.at, last.id))
    assert ids(second) == ["e2", "e1", "e0"]
    end = second[-1]
    assert await store.list_audit(None, 3, ListCursor(end.at, end.id)) == []


async def test_a_queue_page_after_a_cursor(store: Store) -> None:
    await written(store, entry(1, "a", "q"), entry(2, "b", "r"), entry(3, "c", "q"))
    after_c = ListCursor(BASE + timedelta(seconds=3), "c")
    assert ids(await store.list_audit(["q"], 10, after_c)) == ["a"]


async def test_delete_older_than_keeps_the_rest(store: Store) -> None:
    await written(store, entry(1, "a"), entry(2, "b"), entry(3, "c", "r"))
    assert await store.delete_audit_older_than(BASE + timedelta(seconds=2)) == 1
    assert ids(await store.list_audit(None, 10, None)) == ["c", "b"]
    assert await store.delete_audit_older_than(BASE) == 0
    assert await store.delete_audit_older_than(BASE + timedelta(days=1)) == 2
    assert await store.list_audit(None, 10, None) == []


async def test_delete_older_than_deletes_past_the_sqlite_chunk(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_audit, "TRIM_CHUNK", 2)  # SQLite deletes 2 a statement
    await written(store, *(entry(s, f"e{s}") for s in range(5)), entry(9, "kept"))
    assert await store.delete_audit_older_than(BASE + timedelta(seconds=5)) == 5
    assert ids(await store.list_audit(None, 10, None)) == ["kept"]
