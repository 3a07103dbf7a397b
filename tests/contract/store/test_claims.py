"""Claims (``shared.ports.Claims``): who runs a message. One claim wins, a live lease is
respected, an expired one is taken over; finish, release and renew act for the owner only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.domain.message import ErrorInfo, Status
from shared.ports import ClaimOutcome, MessageRef, Outcome, Store
from tests.support.stores import Q, expired, inserted, later, status_of

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


async def test_finish_keeps_the_error_traceback(store: Store) -> None:
    """``error.traceback`` round-trips through the store, read one by one and listed."""
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "a", later())
    trace = 'Traceback (most recent call last):\n  File "h.py", line 3, in f\n'
    trace += "    ü ☃ \ud800\nKeyError: 1\n"
    error = ErrorInfo("KeyError", "1", trace)
    assert await store.finish(Q, record.id, "a", Outcome(Status.ERROR, error=error)) is True
    got = await store.get(Q, record.id)
    assert got is not None and got.error == error
    assert [r.error for r in await store.list_records(Q, Status.ERROR, 10, None)] == [error]


async def test_finish_does_not_resurrect_a_deleted_record(store: Store) -> None:
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "a", later())
    assert await store.delete(Q, record.id) is True
    assert await store.finish(Q, record.id, "a", Outcome(Status.COMPLETE, "x")) is False
    assert await store.get(Q, record.id) is None
    assert await store.release(Q, record.id, "a") is False
    assert await store.get(Q, record.id) is None


async def test_finish_record_answers_the_record_as_written(store: Store) -> None:
    """What a completion event carries: exactly what a read right after the write returns
    (version, history, traceback and all); None where ``finish`` would answer False."""
    (record,) = await inserted(store)
    await store.claim(Q, record.id, "a", later())
    assert await store.finish_record(Q, record.id, "b", Outcome(Status.COMPLETE)) is None
    error = ErrorInfo("KeyError", "1", "Traceback (most recent call last):\n  \ud800 ☃\n")
    written = await store.finish_record(Q, record.id, "a", Outcome(Status.ERROR, {"r": 1}, error))
    assert written is not None and written == await store.get(Q, record.id)
    assert (written.status, written.error, written.version) == (Status.ERROR, error, 3)
    assert [t.status for t in written.history][-1] is Status.ERROR
    assert await store.finish_record(Q, record.id, "a", Outcome(Status.COMPLETE)) is None
    assert await store.delete(Q, record.id) is True
    assert await store.finish_record(Q, record.id, "a", Outcome(Status.COMPLETE)) is None


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
