"""The Store contract (``shared.ports.Store``), run against every adapter.

``sqlite`` uses a file in tmp_path; ``mongo`` uses the session's MongoDB wire server with a
database of its own, dropped afterwards. The wire server can be slow (~100 writes a
second), so each case writes only a handful of records; paging is exercised with a small
page size.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

import shared.adapters.sqlite.sweeps as sqlite_sweeps
from shared.adapters.mongo.collection import MongoStore, client_options
from shared.adapters.sqlite.database import SqliteStore
from shared.domain.message import ErrorInfo, Json, MessageRecord, Status, utcnow
from shared.ports import (
    CancelOutcome,
    ClaimOutcome,
    Claims,
    Keys,
    MessageRef,
    Outcome,
    ProgressReports,
    RecordExists,
    Records,
    Recovery,
    ScheduleStates,
    Store,
    StoreUnavailable,
)
from tests.support.services import start_mongo_wire
from tests.support.sockets import free_port
from tests.support.stores import Raw, open_store, own_database

SMALL_PAGE = 3
BASE = datetime(2024, 1, 1, tzinfo=UTC)
Q = "q"


def fast_fail_url(url: str) -> str:
    return url + "&serverSelectionTimeoutMS=300&connectTimeoutMS=300&socketTimeoutMS=2000"


@pytest.fixture
async def mongo_db(mongo_url: str) -> AsyncIterator[Raw]:
    async with own_database(mongo_url) as db:
        yield db


@pytest.fixture(params=["sqlite", "mongo"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Store]:
    monkeypatch.setattr(sqlite_sweeps, "PAGE", SMALL_PAGE)
    kw = {"page": SMALL_PAGE} if request.param == "mongo" else {}
    async with open_store(request.param, request, tmp_path, **kw) as adapter:
        yield adapter


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


# --- insert / get / delete -------------------------------------------------------------


async def test_insert_get_delete(store: Store) -> None:
    record = new({"hello": "world"})
    await store.insert(record)
    got = await store.get(Q, record.id)
    assert got is not None
    assert (got.id, got.queue, got.status, got.request) == (
        record.id,
        Q,
        Status.PENDING,
        {"hello": "world"},
    )
    assert (got.result, got.error, got.attempts) == (None, None, 0)
    assert got.created_at.tzinfo is not None
    assert abs(got.created_at - record.created_at) < timedelta(milliseconds=1)
    assert abs(got.updated_at - record.updated_at) < timedelta(milliseconds=1)
    assert await store.get("other", record.id) is None
    assert await store.get(Q, "no-such-id") is None
    assert await store.delete("other", record.id) is False
    assert await store.delete(Q, record.id) is True
    assert await store.get(Q, record.id) is None
    assert await store.delete(Q, record.id) is False


async def test_duplicate_id_is_refused(store: Store) -> None:
    (record,) = await inserted(store)
    with pytest.raises(RecordExists):  # not StoreUnavailable: retrying cannot help
        await store.insert(new(mid=record.id))


# --- claim -----------------------------------------------------------------------------


async def test_claim_pending(store: Store) -> None:
    (record,) = await inserted(store)
    claim = await store.claim(Q, record.id, "a", later())
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.record is not None
    assert (claim.record.status, claim.record.attempts) == (Status.INPROGRESS, 1)
    assert claim.record.request == record.request
    got = await store.get(Q, record.id)
    assert got is not None and (got.status, got.attempts) == (Status.INPROGRESS, 1)


async def test_claim_gone(store: Store) -> None:
    (record,) = await inserted(store)
    assert (await store.claim(Q, "no-such-id", "a", later())).outcome is ClaimOutcome.GONE
    wrong_queue = await store.claim("other", record.id, "a", later())
    assert (wrong_queue.outcome, wrong_queue.record) == (ClaimOutcome.GONE, None)


@pytest.mark.parametrize("status", [Status.COMPLETE, Status.ERROR])
async def test_claim_final(store: Store, status: Status) -> None:
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "a", later())
    error = ErrorInfo("Boom", "failed") if status is Status.ERROR else None
    assert await store.finish(Q, record.id, "a", Outcome(status, {"r": 1}, error))
    claim = await store.claim(Q, record.id, "b", later())
    assert claim.outcome is ClaimOutcome.FINAL
    assert claim.record is not None
    assert (claim.record.status, claim.record.attempts) == (status, 1)


async def test_claim_busy_under_live_lease(store: Store) -> None:
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "a", later())
    claim = await store.claim(Q, record.id, "b", later())
    assert claim.outcome is ClaimOutcome.BUSY
    assert claim.record is not None
    assert (claim.record.status, claim.record.attempts) == (Status.INPROGRESS, 1)
    assert await store.finish(Q, record.id, "b", Outcome(Status.COMPLETE)) is False
    assert await store.finish(Q, record.id, "a", Outcome(Status.COMPLETE, "ok")) is True


async def test_claim_takes_over_expired_lease(store: Store) -> None:
    (record,) = await inserted(store)
    assert (await store.claim(Q, record.id, "a", expired())).outcome is ClaimOutcome.CLAIMED
    claim = await store.claim(Q, record.id, "b", later())
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.record is not None and claim.record.attempts == 2
    # The old owner can neither finish nor release it any more.
    assert await store.finish(Q, record.id, "a", Outcome(Status.COMPLETE, "old")) is False
    assert await store.release(Q, record.id, "a") is False
    assert await store.finish(Q, record.id, "b", Outcome(Status.COMPLETE, "new")) is True
    got = await store.get(Q, record.id)
    assert got is not None and (got.status, got.result, got.attempts) == (
        Status.COMPLETE,
        "new",
        2,
    )


async def test_concurrent_claims_exactly_one_wins(store: Store) -> None:
    (record,) = await inserted(store)
    claims = await asyncio.gather(
        *(store.claim(Q, record.id, f"owner-{i}", later()) for i in range(16))
    )
    outcomes = [c.outcome for c in claims]
    assert outcomes.count(ClaimOutcome.CLAIMED) == 1
    assert outcomes.count(ClaimOutcome.BUSY) == 15
    got = await store.get(Q, record.id)
    assert got is not None and got.attempts == 1


async def test_concurrent_takeover_exactly_one_wins(store: Store) -> None:
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "dead", expired())
    claims = await asyncio.gather(
        *(store.claim(Q, record.id, f"owner-{i}", later()) for i in range(8))
    )
    assert [c.outcome for c in claims].count(ClaimOutcome.CLAIMED) == 1
    got = await store.get(Q, record.id)
    assert got is not None and got.attempts == 2


# --- finish / release / renew ----------------------------------------------------------


async def test_finish_writes_the_outcome_once(store: Store) -> None:
    ok, bad, unclaimed = await inserted(store, 3)
    await store.claim(Q, ok.id, "a", later())
    await store.claim(Q, bad.id, "a", later())
    assert await store.finish(Q, ok.id, "other", Outcome(Status.COMPLETE, 1)) is False
    assert await store.finish(Q, ok.id, "a", Outcome(Status.COMPLETE, {"sum": [1, 2]})) is True
    assert await store.finish(Q, ok.id, "a", Outcome(Status.ERROR)) is False
    error = ErrorInfo("ValueError", "bad ünïcode ☃ \ud800 input")
    assert await store.finish(Q, bad.id, "a", Outcome(Status.ERROR, error=error)) is True
    assert await store.finish(Q, unclaimed.id, "a", Outcome(Status.COMPLETE)) is False
    got_ok, got_bad, got_unclaimed = [await store.get(Q, r.id) for r in (ok, bad, unclaimed)]
    assert got_ok is not None and got_bad is not None and got_unclaimed is not None
    assert (got_ok.status, got_ok.result, got_ok.error) == (Status.COMPLETE, {"sum": [1, 2]}, None)
    assert (got_bad.status, got_bad.result, got_bad.error) == (Status.ERROR, None, error)
    assert got_unclaimed.status is Status.PENDING
    assert got_ok.updated_at >= ok.updated_at - timedelta(milliseconds=1)


async def test_finish_does_not_resurrect_a_deleted_record(store: Store) -> None:
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "a", later())
    assert await store.delete(Q, record.id) is True
    assert await store.finish(Q, record.id, "a", Outcome(Status.COMPLETE, "x")) is False
    assert await store.get(Q, record.id) is None
    assert await store.release(Q, record.id, "a") is False
    assert await store.get(Q, record.id) is None


async def test_release(store: Store) -> None:
    (record,) = await inserted(store)
    assert await store.release(Q, record.id, "a") is False  # PENDING: nothing held
    await store.claim(Q, record.id, "a", later())
    assert await store.release(Q, record.id, "b") is False
    assert await store.release("other", record.id, "a") is False
    assert await store.release(Q, record.id, "a") is True
    assert await status_of(store, record) is Status.PENDING
    claim = await store.claim(Q, record.id, "b", later())
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.record is not None and claim.record.attempts == 2


async def test_release_all_inprogress(store: Store) -> None:
    held_a, held_b, pending, done = await inserted(store, 4)
    await store.claim(Q, held_a.id, "a", later())
    await store.claim(Q, held_b.id, "b", expired())
    await store.claim(Q, done.id, "a", later())
    await store.finish(Q, done.id, "a", Outcome(Status.COMPLETE, 1))
    assert await store.release_all_inprogress() == 2
    statuses = [await status_of(store, r) for r in (held_a, held_b, pending, done)]
    assert statuses == [Status.PENDING, Status.PENDING, Status.PENDING, Status.COMPLETE]
    assert await store.release_all_inprogress() == 0


async def test_renew_extends_only_the_owners_leases(store: Store) -> None:
    mine, theirs, finished = await inserted(store, 3)
    await store.claim(Q, mine.id, "a", expired())
    await store.claim(Q, theirs.id, "b", expired())
    await store.claim(Q, finished.id, "a", later())
    await store.finish(Q, finished.id, "a", Outcome(Status.COMPLETE))
    await store.renew([], "a", later())
    refs = [MessageRef(Q, r.id) for r in (mine, theirs, finished)]
    await store.renew(refs, "a", later())
    assert (await store.claim(Q, mine.id, "c", later())).outcome is ClaimOutcome.BUSY
    assert (await store.claim(Q, theirs.id, "c", later())).outcome is ClaimOutcome.CLAIMED
    assert (await store.claim(Q, finished.id, "c", later())).outcome is ClaimOutcome.FINAL
    assert await store.finish(Q, mine.id, "a", Outcome(Status.COMPLETE)) is True
    # A former owner's renewal does not extend the current owner's (expired) lease.
    taken = await store.claim(Q, theirs.id, "d", expired())
    assert taken.outcome is ClaimOutcome.BUSY  # c's lease is live
    await store.release(Q, theirs.id, "c")
    await store.claim(Q, theirs.id, "d", expired())
    await store.renew([MessageRef(Q, theirs.id)], "c", later())
    claim = await store.claim(Q, theirs.id, "e", later())
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.record is not None and claim.record.attempts == 4


# --- cancel ----------------------------------------------------------------------------


async def test_cancel_of_a_pending_record_is_final_at_once(store: Store) -> None:
    plain, delayed = await inserted(store, 2)
    await store.delete(Q, delayed.id)
    delayed = replace(delayed, not_before=later(60))
    await store.insert(delayed)
    until = later(600)
    for record in (plain, delayed):
        done = await store.cancel(Q, record.id, until)
        assert done.outcome is CancelOutcome.CANCELLED and done.record is not None
        assert (done.record.status, done.record.not_before) == (Status.CANCELLED, None)
        claim = await store.claim(Q, record.id, "a", later())
        assert claim.outcome is ClaimOutcome.FINAL  # it never runs
    assert await store.next_due() is None  # the delayed one no longer waits
    assert await collect(store.pending()) == []
    assert await collect(store.unpublished(later())) == []


async def test_cancel_of_a_running_record_flags_it_for_its_holder(store: Store) -> None:
    mine, other = await inserted(store, 2)
    await store.claim(Q, mine.id, "a", later())
    await store.claim(Q, other.id, "a", later())
    refs = [MessageRef(Q, mine.id), MessageRef(Q, other.id)]
    assert await store.renew(refs, "a", later()) == []
    done = await store.cancel(Q, mine.id, None)
    assert done.outcome is CancelOutcome.REQUESTED and done.record is not None
    assert (done.record.status, done.record.cancel_requested) == (Status.INPROGRESS, True)
    assert await store.renew(refs, "a", later()) == [MessageRef(Q, mine.id)]
    assert await store.renew(refs, "b", later()) == []  # only the holder hears it
    again = await store.cancel(Q, mine.id, None)  # asking twice changes nothing
    assert again.outcome is CancelOutcome.REQUESTED
    assert await store.finish(Q, mine.id, "a", Outcome(Status.CANCELLED)) is True
    got = await store.get(Q, mine.id)
    assert got is not None and (got.status, got.cancel_requested) == (Status.CANCELLED, True)


async def test_a_flagged_record_is_claimed_with_its_flag_after_its_holder_died(
    store: Store,
) -> None:
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "dead", expired())
    await store.cancel(Q, record.id, None)
    claim = await store.claim(Q, record.id, "b", later())
    assert claim.outcome is ClaimOutcome.CLAIMED and claim.record is not None
    assert claim.record.cancel_requested is True  # the new holder cancels it unrun


@pytest.mark.parametrize("status", [Status.COMPLETE, Status.ERROR, Status.CANCELLED])
async def test_cancel_of_a_final_or_unknown_record_changes_nothing(
    store: Store, status: Status
) -> None:
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "a", later())
    assert await store.finish(Q, record.id, "a", Outcome(status))
    done = await store.cancel(Q, record.id, None)
    assert done.outcome is CancelOutcome.FINAL and done.record is not None
    assert done.record.status is status
    assert (await store.cancel(Q, "no-such-id", None)).outcome is CancelOutcome.GONE
    assert (await store.cancel("other", record.id, None)).outcome is CancelOutcome.GONE
    assert await store.redrive(Q, record.id) is None or status is Status.ERROR


async def test_cancelled_records_are_never_revived_by_recovery(store: Store) -> None:
    waiting, running = await inserted(store, 2)
    await store.cancel(Q, waiting.id, None)
    await store.claim(Q, running.id, "a", expired())
    await store.cancel(Q, running.id, None)
    await store.finish(Q, running.id, "a", Outcome(Status.CANCELLED))
    assert await store.release_all_inprogress() == 0
    assert await store.release_expired(later()) == []
    assert await store.take_overdue(later()) == []
    assert await collect(store.unpublished(later())) == []
    assert await store.redrive(Q, waiting.id) is None
    assert [await status_of(store, r) for r in (waiting, running)] == [Status.CANCELLED] * 2


async def test_an_abandoned_cancelled_run_is_not_failed_but_released(store: Store) -> None:
    (record,) = await inserted(store)
    for owner in ("dead-1", "dead-2"):  # its deliveries are exhausted (2 of 2)
        await store.claim(Q, record.id, owner, expired())
    await store.cancel(Q, record.id, None)
    assert await store.fail_abandoned(later(), 2, ErrorInfo("Dead", "x")) == []
    assert await store.release_expired(later()) == [MessageRef(Q, record.id)]
    claim = await store.claim(Q, record.id, "c", later())
    assert claim.record is not None and claim.record.cancel_requested is True


# --- publishing bookkeeping and scans --------------------------------------------------


async def test_unpublished_order_cutoff_and_paging(store: Store) -> None:
    # Seven old unpublished records (two pairs share a timestamp) span three pages.
    times = [0, 1, 1, 2, 3, 3, 4]
    old = [new(at=BASE + timedelta(seconds=s)) for s in times]
    published, claimed, finished = (new(at=BASE + timedelta(seconds=5)) for _ in range(3))
    recent = new()
    for record in [*reversed(old), published, claimed, finished, recent]:
        await store.insert(record)
    await store.mark_published([MessageRef(Q, published.id)])
    await store.mark_published([])
    await store.claim(Q, claimed.id, "a", later())
    await store.claim(Q, finished.id, "a", later())
    await store.finish(Q, finished.id, "a", Outcome(Status.COMPLETE))
    expected = [r.id for r in sorted(old, key=lambda r: (r.created_at, r.id))]
    cutoff = utcnow() - timedelta(minutes=1)
    assert await collect(store.unpublished(cutoff)) == expected
    assert await collect(store.unpublished(BASE + timedelta(seconds=3))) == expected[:4]
    assert await collect(store.unpublished(BASE)) == []
    await store.mark_published([MessageRef(Q, i) for i in expected[:5]])
    assert await collect(store.unpublished(cutoff)) == expected[5:]
    # A claim marks it published: a released message is not republished by the sweep.
    await store.claim(Q, expected[5], "a", later())
    await store.release(Q, expected[5], "a")
    assert await collect(store.unpublished(cutoff)) == expected[6:]


async def test_pending_order_and_paging(store: Store) -> None:
    # Six PENDING records: exactly two full pages, then an empty one.
    records = [new(at=BASE + timedelta(seconds=s)) for s in (5, 0, 2, 2, 9, 1)]
    held, done = new(at=BASE), new(at=BASE)
    for record in [*records, held, done]:
        await store.insert(record)
    await store.mark_published([MessageRef(Q, records[0].id)])
    await store.claim(Q, held.id, "a", later())
    await store.claim(Q, done.id, "a", later())
    await store.finish(Q, done.id, "a", Outcome(Status.ERROR, error=ErrorInfo("E", "e")))
    expected = [r.id for r in sorted(records, key=lambda r: (r.created_at, r.id))]
    assert await collect(store.pending()) == expected
    refs = [ref async for ref in store.pending()]
    assert {ref.queue for ref in refs} == {Q}
    await store.delete(Q, expected[0])
    assert await collect(store.pending()) == expected[1:]


async def test_delayed_records_wait_for_their_due_time(store: Store) -> None:
    soon, later_one = new(), new()
    soon = replace(soon, not_before=utcnow() + timedelta(seconds=30))
    later_one = replace(later_one, not_before=utcnow() + timedelta(hours=2))
    plain = new()
    for record in (soon, later_one, plain):
        await store.insert(record)
    got = await store.get(Q, soon.id)
    assert got is not None and got.not_before is not None
    assert abs((got.not_before - soon.not_before).total_seconds()) < 0.01  # type: ignore[operator]
    assert await collect(store.pending()) == [plain.id]  # the delayed ones are not due
    due = await store.next_due()
    assert due is not None and abs((due - soon.not_before).total_seconds()) < 0.01  # type: ignore[operator]
    claim = await store.claim(Q, soon.id, "a", later())
    assert claim.outcome is ClaimOutcome.DEFERRED
    assert await store.take_overdue(utcnow() + timedelta(minutes=1)) == [MessageRef(Q, soon.id)]
    assert (await store.claim(Q, soon.id, "a", later())).outcome is ClaimOutcome.CLAIMED
    due = await store.next_due()
    assert due is not None and abs((due - later_one.not_before).total_seconds()) < 0.01  # type: ignore[operator]
    await store.delete(Q, later_one.id)
    assert await store.next_due() is None


async def test_fail_abandoned(store: Store) -> None:
    exhausted, retryable, live, pending = await inserted(store, 4)
    await store.claim(Q, exhausted.id, "a", expired())
    await store.claim(Q, exhausted.id, "b", expired())  # second run, lease expired too
    await store.claim(Q, retryable.id, "a", expired())
    await store.claim(Q, live.id, "a", later())
    await store.claim(Q, live.id, "b", later())
    error = ErrorInfo("DeliveryLimitExceeded", "died twice")
    failed = await store.fail_abandoned(utcnow() - timedelta(seconds=1), 2, error)
    assert failed == [MessageRef(Q, exhausted.id)]
    got = await store.get(Q, exhausted.id)
    assert got is not None and (got.status, got.error, got.attempts) == (Status.ERROR, error, 2)
    assert await store.finish(Q, exhausted.id, "b", Outcome(Status.COMPLETE)) is False
    assert (await store.claim(Q, exhausted.id, "c", later())).outcome is ClaimOutcome.FINAL
    statuses = [await status_of(store, r) for r in (retryable, live, pending)]
    assert statuses == [Status.INPROGRESS, Status.INPROGRESS, Status.PENDING]
    assert await store.fail_abandoned(utcnow(), 2, error) == []
    # An expiry cutoff older than the lease leaves it alone; a later one fails it.
    assert await store.fail_abandoned(utcnow() - timedelta(hours=1), 1, error) == []
    assert await store.fail_abandoned(utcnow(), 1, error) == [MessageRef(Q, retryable.id)]


async def test_release_expired_puts_abandoned_runs_back_unpublished(store: Store) -> None:
    abandoned, live, pending = await inserted(store, 3)
    await store.claim(Q, abandoned.id, "a", expired())
    await store.claim(Q, live.id, "b", later())
    assert await store.release_expired(utcnow() - timedelta(hours=1)) == []  # not that old
    assert await store.release_expired(utcnow()) == [MessageRef(Q, abandoned.id)]
    got = await store.get(Q, abandoned.id)
    assert got is not None and (got.status, got.attempts) == (Status.PENDING, 1)
    assert await store.finish(Q, abandoned.id, "a", Outcome(Status.COMPLETE)) is False
    assert abandoned.id in await collect(store.unpublished(later()))
    assert await status_of(store, live) is Status.INPROGRESS
    assert await status_of(store, pending) is Status.PENDING
    assert await store.release_expired(utcnow()) == []  # once
    again = await store.claim(Q, abandoned.id, "c", later())
    assert again.outcome is ClaimOutcome.CLAIMED and again.record is not None
    assert again.record.attempts == 2


async def test_take_overdue_clears_the_due_time_once(store: Store) -> None:
    overdue, waiting, plain = await inserted(store, 3)
    for record, due in ((overdue, utcnow() - timedelta(seconds=30)), (waiting, later())):
        await store.claim(Q, record.id, "a", later())
        assert await store.schedule_retry(Q, record.id, "a", ErrorInfo("Boom", "x"), due)
    await store.mark_published([MessageRef(Q, r.id) for r in (overdue, waiting, plain)])
    assert await store.take_overdue(utcnow() - timedelta(minutes=5)) == []
    assert await store.take_overdue(utcnow()) == [MessageRef(Q, overdue.id)]
    assert await store.take_overdue(utcnow()) == []
    assert await collect(store.unpublished(later())) == [overdue.id]
    assert (await store.claim(Q, overdue.id, "b", later())).outcome is ClaimOutcome.CLAIMED
    assert (await store.claim(Q, waiting.id, "b", later())).outcome is ClaimOutcome.DEFERRED


# --- JSON round trips ------------------------------------------------------------------


def deep(levels: int) -> Json:
    value: Json = "bottom"
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


JSON_VALUES: dict[str, Json] = {
    "unicode": {"text": "héllo ☃ 😀 中文 \u0000 \u2028", "ключ": "значение"},
    "nested": {"a": [1, {"b": [None, True, False, {"c": []}]}, {}], "z": {"y": {"x": "w"}}},
    "key-order": {"b": 1, "a": 2, "c": {"z": 1, "y": 2}},
    "int64": [2**63 - 1, -(2**63), 2**31, -(2**31) - 1, 0, -1],
    "beyond-int64": {"big": 2**63, "small": -(2**63) - 1, "huge": 10**40},
    "floats": [0.1, -0.0, 1.5e308, 5e-324, 1.0, -2.5],
    "null": None,
    "string": "just a string",
    "number": 42,
    "bool": True,
    "list": [1, "two", 3.0, None, [4]],
    "dollar-key": {"$x": 1, "nested": {"$set": {"a": 1}}},
    "dotted-key": {"a.b": 1, "c": {"d.e.f": [1]}},
    "empty-key": {"": "empty"},
    "nul-key": {"a\u0000b": 1},
    "lone-surrogate": {"s": "\ud800x", "\udfff": 1},
    "deep": deep(60),
}


def canonical(value: Json) -> str:
    """JSON text that also tells int from float, -0.0 from 0.0, and key order."""

    def check(v: Json) -> None:
        assert type(v) in (dict, list, str, int, float, bool, type(None)), type(v)
        if isinstance(v, dict):
            for item in v.values():
                check(item)
        elif isinstance(v, list):
            for item in v:
                check(item)

    check(value)
    return json.dumps(value, allow_nan=False)


@pytest.mark.parametrize("name", list(JSON_VALUES))
async def test_json_round_trips(store: Store, name: str) -> None:
    value = JSON_VALUES[name]
    record = replace(new(), request=value)
    await store.insert(record)
    claim = await store.claim(Q, record.id, "a", later())
    assert claim.record is not None and canonical(claim.record.request) == canonical(value)
    assert await store.finish(Q, record.id, "a", Outcome(Status.COMPLETE, value))
    got = await store.get(Q, record.id)
    assert got is not None
    assert canonical(got.request) == canonical(value)
    assert canonical(got.result) == canonical(value)


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


@pytest.mark.filterwarnings("ignore::ResourceWarning")
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
    await collect_leaked_sockets()


async def collect_leaked_sockets() -> None:
    """Collect, within the test's ignore filter, the socket pymongo 4.20's async client
    sometimes drops unclosed when the server dies under it or never answered (its
    ResourceWarning would otherwise surface in a later test)."""
    await asyncio.sleep(0.1)
    gc.collect()


@pytest.fixture
def own_mongo() -> Iterator[tuple[str, Generator[str, None, None]]]:
    """A wire server of this test's own, so the test can stop it."""
    server = cast(Generator[str, None, None], start_mongo_wire())
    url = next(server)
    yield url, server
    server.close()


@pytest.mark.distributed  # its own wire server (not the session's mongo_url)
@pytest.mark.filterwarnings("ignore::ResourceWarning")
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
    await collect_leaked_sockets()


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


async def test_mongo_stores_plain_json_natively(mongo_db: Raw) -> None:
    store = MongoStore(mongo_db.url, mongo_db.database, "messages")
    await store.open()
    plain, odd = new({"a": [1, 2**40, "é"]}), new({"ok": 1, "x": {"$y": 1}})
    await store.insert(plain)
    await store.insert(odd)
    await store.close()
    # Native documents stay queryable; the rest is kept as exact JSON text.
    found = [doc["_id"] async for doc in mongo_db.messages.find({"request.a": 2**40})]
    assert found == [plain.id]
    raw = await mongo_db.messages.find_one({"_id": odd.id})
    assert raw is not None and raw["request"] is None
    assert json.loads(raw["request_json"]) == {"ok": 1, "x": {"$y": 1}}
