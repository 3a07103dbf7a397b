"""``Store.schedule_retry``, ``Store.redrive`` and the DEFERRED claim, over both adapters.

Also the delivery-limit bookkeeping: ``fail_abandoned`` counts deliveries since the last
retry/redrive, so a message retried legitimately is not taken for one that kills consumers.
"""

from __future__ import annotations

from datetime import timedelta

from shared.domain.message import ErrorInfo, MessageRecord, Status, utcnow
from shared.ports import ClaimOutcome, MessageRef, Outcome, Store

Q = "q"
BOOM = ErrorInfo("ValueError", "boom")
DEAD = ErrorInfo("DeliveryLimitExceeded", "dead")


async def claimed(store: Store, owner: str = "a") -> MessageRecord:
    record = MessageRecord.new(Q, {"n": 1})
    await store.insert(record)
    claim = await store.claim(Q, record.id, owner, utcnow() + timedelta(hours=1))
    assert claim.outcome is ClaimOutcome.CLAIMED and claim.record is not None
    return claim.record


async def test_schedule_retry_makes_pending_with_error_and_defers(store: Store) -> None:
    rec = await claimed(store)
    due = utcnow() + timedelta(hours=1)
    assert await store.schedule_retry(Q, rec.id, "a", BOOM, due)
    got = await store.get(Q, rec.id)
    assert got is not None
    assert (got.status, got.attempts, got.error, got.result) == (Status.PENDING, 1, BOOM, None)
    claim = await store.claim(Q, rec.id, "b", utcnow() + timedelta(hours=1))
    assert claim.outcome is ClaimOutcome.DEFERRED
    assert claim.due is not None and abs((claim.due - due).total_seconds()) < 0.01
    # unpublished until the caller re-publishes it (the sweep's safety net)
    assert MessageRef(Q, rec.id) in [
        r async for r in store.unpublished(utcnow() + timedelta(seconds=1))
    ]
    # not due yet: start-up recovery leaves it to the due timer
    assert MessageRef(Q, rec.id) not in [r async for r in store.pending()]


async def test_schedule_retry_keeps_the_traceback_until_a_redrive(store: Store) -> None:
    rec = await claimed(store)
    failed = ErrorInfo("KeyError", "'k'", "Traceback (most recent call last):\nKeyError: 'k'\n")
    assert await store.schedule_retry(Q, rec.id, "a", failed, utcnow() - timedelta(seconds=1))
    got = await store.get(Q, rec.id)
    assert got is not None and got.error == failed
    claim = await store.claim(Q, rec.id, "b", utcnow() + timedelta(hours=1))
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert await store.finish(Q, rec.id, "b", Outcome(Status.ERROR, error=failed))
    redriven = await store.redrive(Q, rec.id)
    assert redriven is not None and redriven.error is None


async def test_due_retry_is_claimable_and_counts_the_attempt(store: Store) -> None:
    rec = await claimed(store)
    assert await store.schedule_retry(Q, rec.id, "a", BOOM, utcnow() - timedelta(seconds=1))
    claim = await store.claim(Q, rec.id, "b", utcnow() + timedelta(hours=1))
    assert claim.outcome is ClaimOutcome.CLAIMED and claim.record is not None
    assert claim.record.attempts == 2
    assert claim.due is None


async def test_schedule_retry_needs_the_holder(store: Store) -> None:
    rec = await claimed(store)
    assert not await store.schedule_retry(Q, rec.id, "other", BOOM, utcnow())
    assert not await store.schedule_retry(Q, "no-such-id", "a", BOOM, utcnow())
    got = await store.get(Q, rec.id)
    assert got is not None and got.status is Status.INPROGRESS
    assert await store.delete(Q, rec.id)
    assert not await store.schedule_retry(Q, rec.id, "a", BOOM, utcnow())
    assert await store.get(Q, rec.id) is None


async def test_redrive_error_resets_for_a_new_run(store: Store) -> None:
    rec = await claimed(store)
    assert await store.finish(Q, rec.id, "a", Outcome(Status.ERROR, error=BOOM))
    again = await store.redrive(Q, rec.id)
    assert again is not None
    assert (again.status, again.attempts, again.error, again.result) == (
        Status.PENDING,
        0,
        None,
        None,
    )
    assert await store.get(Q, rec.id) == again
    claim = await store.claim(Q, rec.id, "b", utcnow() + timedelta(hours=1))
    assert claim.outcome is ClaimOutcome.CLAIMED and claim.record is not None
    assert claim.record.attempts == 1


async def test_redrive_only_error(store: Store) -> None:
    assert await store.redrive(Q, "no-such-id") is None
    pending = MessageRecord.new(Q, {})
    await store.insert(pending)
    assert await store.redrive(Q, pending.id) is None
    rec = await claimed(store)
    assert await store.redrive(Q, rec.id) is None  # INPROGRESS
    assert await store.finish(Q, rec.id, "a", Outcome(Status.COMPLETE, {"ok": 1}))
    assert await store.redrive(Q, rec.id) is None  # COMPLETE
    assert await store.redrive("other", rec.id) is None  # wrong queue
    got = await store.get(Q, rec.id)
    assert got is not None and got.status is Status.COMPLETE and got.result == {"ok": 1}


async def test_redrive_dead_lettered(store: Store) -> None:
    rec = await claimed(store)
    assert await store.fail_abandoned(utcnow() + timedelta(hours=2), 1, DEAD) == [
        MessageRef(Q, rec.id)
    ]
    again = await store.redrive(Q, rec.id)
    assert again is not None and again.status is Status.PENDING and again.error is None


async def test_retries_do_not_count_as_crash_deliveries(store: Store) -> None:
    """Three legitimate attempts, then one crash: with a limit of 2 it is not dead yet."""
    rec = await claimed(store)
    past = utcnow() - timedelta(seconds=1)
    for owner in ("b", "c"):
        assert await store.schedule_retry(Q, rec.id, "a" if owner == "b" else "b", BOOM, past)
        claim = await store.claim(Q, rec.id, owner, utcnow() - timedelta(seconds=1))
        assert claim.outcome is ClaimOutcome.CLAIMED
    got = await store.get(Q, rec.id)
    assert got is not None and got.attempts == 3
    # c holds it with an expired lease (it died): one delivery since the last retry.
    expired_before = utcnow() + timedelta(seconds=1)
    assert await store.fail_abandoned(expired_before, 2, DEAD) == []
    # a second consumer takes over and dies too: now the limit is reached.
    claim = await store.claim(Q, rec.id, "d", utcnow() - timedelta(seconds=1))
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert await store.fail_abandoned(expired_before, 2, DEAD) == [MessageRef(Q, rec.id)]
