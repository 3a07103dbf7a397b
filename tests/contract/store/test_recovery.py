"""Recovery (``shared.ports.Recovery``): what the sweeps find. Unpublished and pending records
in order and by page, due times, abandoned runs failed or put back, overdue retries taken once.
Paging is exercised with a page of 3 (the ``store`` fixture)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.domain.message import ErrorInfo, Status, utcnow
from shared.ports import ClaimOutcome, MessageRef, Outcome, Store
from tests.support.stores import Q, collect, expired, inserted, later, new, status_of

BASE = datetime(2024, 1, 1, tzinfo=UTC)


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


# --- queued records: what the broker should hold, and those idle too long -------------


async def test_count_queued_and_idle_queued(store: Store) -> None:
    cutoff = utcnow() - timedelta(minutes=1)
    old = [new(at=BASE + timedelta(seconds=s)) for s in (2, 0, 1)]
    recent = new()
    due_long_ago = replace(new(at=BASE), not_before=BASE + timedelta(seconds=9))
    due_just_now = replace(new(at=BASE), not_before=utcnow() - timedelta(seconds=1))
    delayed = replace(new(at=BASE), not_before=later())
    unpublished, claimed, released = new(at=BASE), new(at=BASE), new(at=BASE)
    elsewhere = replace(new(at=BASE), queue="other")
    published = [*old, recent, due_long_ago, due_just_now, delayed, claimed, released, elsewhere]
    for record in [*published, unpublished]:
        await store.insert(record)
    await store.mark_published([MessageRef(r.queue, r.id) for r in published])
    await store.claim(Q, claimed.id, "a", later())
    await store.claim(Q, released.id, "a", later())
    await store.release(Q, released.id, "a")  # PENDING again, just now: not idle
    # Queued: published, PENDING and due; the delayed, unpublished and claimed are not.
    assert await store.count_queued(Q) == 7
    assert await store.count_queued("other") == 1
    assert await store.count_queued("none") == 0
    # Idle: unchanged and due since before the cutoff, oldest first (created_at, id).
    idle = sorted([*old, due_long_ago], key=lambda r: (r.created_at, r.id))
    assert [r.id for r in await store.idle_queued(Q, cutoff, 10)] == [r.id for r in idle]
    assert [r.id for r in await store.idle_queued(Q, cutoff, 2)] == [r.id for r in idle[:2]]
    assert {r.queue for r in await store.idle_queued(Q, cutoff, 10)} == {Q}
    assert await store.idle_queued(Q, cutoff, 0) == []
    assert await store.idle_queued(Q, BASE, 10) == []
    # A claim takes a record out of both; the broker no longer needs to hold it.
    await store.claim(Q, idle[0].id, "a", later())
    assert await store.count_queued(Q) == 6
    assert idle[0].id not in [r.id for r in await store.idle_queued(Q, cutoff, 10)]
