"""Cancellation in the store: a waiting record is final at once, a running one is flagged for
its holder, a final one is left alone, and recovery never revives a cancelled run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.message import ErrorInfo, Status
from shared.ports import CancelOutcome, ClaimOutcome, MessageRef, Outcome, Store
from tests.support.stores import Q, collect, expired, inserted, later, status_of

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
