"""Batched claims and final writes (``Claims.claim_many``, ``finish_many``): each item answers
exactly what its single call would, in order, and one item's refusal fails only itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared.domain.message import ErrorInfo, Status, utcnow
from shared.ports import ClaimOutcome, Finished, MessageRef, Outcome, Store, StoreRejected
from tests.support.stores import Q, expired, inserted, later


def refs_of(*ids: str) -> list[MessageRef]:
    return [MessageRef(Q, i) for i in ids]


async def test_claim_many_answers_each_as_a_single_claim(store: Store) -> None:
    free, taken_over, deferred, final, busy, other_queue = await inserted(store, 6)
    assert (await store.claim(Q, taken_over.id, "b", expired())).outcome is ClaimOutcome.CLAIMED
    await store.claim(Q, deferred.id, "b", later())
    due = utcnow() + timedelta(hours=1)
    assert await store.schedule_retry(Q, deferred.id, "b", ErrorInfo("E", "e"), due)
    await store.claim(Q, final.id, "b", later())
    assert await store.finish(Q, final.id, "b", Outcome(Status.COMPLETE, "done"))
    await store.claim(Q, busy.id, "b", later())
    ids = (free.id, taken_over.id, deferred.id, final.id, busy.id, "no-such-id")
    refs = [*refs_of(*ids), MessageRef("other", other_queue.id), MessageRef(Q, free.id)]

    claims = await store.claim_many(refs, "a", later())

    outcomes = [c.outcome for c in claims]
    assert outcomes == [
        ClaimOutcome.CLAIMED,
        ClaimOutcome.CLAIMED,  # its lease had expired: taken over
        ClaimOutcome.DEFERRED,
        ClaimOutcome.FINAL,
        ClaimOutcome.BUSY,
        ClaimOutcome.GONE,
        ClaimOutcome.GONE,  # the id exists, on another queue
        ClaimOutcome.BUSY,  # listed twice: claimed once, by its first copy
    ]
    first, second = claims[0].record, claims[1].record
    assert first is not None and (first.status, first.attempts) == (Status.INPROGRESS, 1)
    assert second is not None and second.attempts == 2
    assert first.history[-1].consumer == "a" and first.history[-1].status is Status.INPROGRESS
    assert claims[2].due is not None and abs((claims[2].due - due).total_seconds()) < 0.01
    assert claims[3].record is not None and claims[3].record.result == "done"
    assert claims[4].record is not None and claims[4].record.status is Status.INPROGRESS
    assert (claims[5].record, claims[6].record) == (None, None)
    # Only the claimed ones are held by "a": it can finish them, not the others.
    finished = await store.finish_many(
        [(r, Outcome(Status.COMPLETE, r.id)) for r in refs_of(*ids[:5])], "a"
    )
    assert written(finished) == [True, True, False, False, False]
    held_by_b = await store.get(Q, busy.id)
    assert held_by_b is not None and held_by_b.attempts == 1
    other = await store.get(Q, other_queue.id)
    assert other is not None and other.status is Status.PENDING


def written(answers: list[Finished | StoreRejected]) -> list[bool | StoreRejected]:
    """Each answer of ``finish_many`` as whether it was written (a refusal as itself)."""
    return [a.written if isinstance(a, Finished) else a for a in answers]


async def test_claim_many_of_one_record_from_two_owners_claims_it_once(store: Store) -> None:
    records = await inserted(store, 3)
    refs = refs_of(*(r.id for r in records))
    batches = await asyncio.gather(
        *(store.claim_many(refs, f"owner-{i}", later()) for i in range(4))
    )
    for position in range(len(refs)):
        outcomes = [batch[position].outcome for batch in batches]
        assert sorted(o.value for o in outcomes) == ["busy"] * 3 + ["claimed"]


async def test_finish_many_writes_only_what_the_owner_holds(store: Store) -> None:
    mine, also_mine, taken_over, deleted = await inserted(store, 4)
    await store.claim_many(refs_of(mine.id, also_mine.id, deleted.id), "a", later())
    await store.claim(Q, taken_over.id, "a", expired())
    await store.claim(Q, taken_over.id, "b", later())
    assert await store.delete(Q, deleted.id)
    error = ErrorInfo("Boom", "failed", "Traceback ...")
    items = [
        (MessageRef(Q, mine.id), Outcome(Status.COMPLETE, {"n": 1})),
        (MessageRef(Q, taken_over.id), Outcome(Status.COMPLETE, "stale")),
        (MessageRef(Q, also_mine.id), Outcome(Status.ERROR, error=error)),
        (MessageRef(Q, deleted.id), Outcome(Status.COMPLETE)),
        (MessageRef(Q, mine.id), Outcome(Status.COMPLETE, "again")),
    ]

    answers = await store.finish_many(items, "a")
    assert written(answers) == [True, False, True, False, False]
    # Each written answer carries the record as the write left it: what a later read sees.
    for answer in answers:
        assert isinstance(answer, Finished)
        if answer.written:
            assert answer.record is not None
            assert answer.record == await store.get(Q, answer.record.id)
        else:
            assert answer.record is None

    got = await store.get(Q, mine.id)
    assert got is not None and (got.status, got.result) == (Status.COMPLETE, {"n": 1})
    assert [t.status for t in got.history][-1] is Status.COMPLETE
    assert got.history[-1].consumer == "a" and got.history[-1].attempt == 1
    failed = await store.get(Q, also_mine.id)
    assert failed is not None and (failed.status, failed.error) == (Status.ERROR, error)
    theirs = await store.get(Q, taken_over.id)
    assert theirs is not None and theirs.status is Status.INPROGRESS
    assert await store.get(Q, deleted.id) is None
    # Written once: a repeat answers False and changes nothing.
    assert written(await store.finish_many(items[:1], "a")) == [False]
    assert (await store.claim_many([], "a", later()), await store.finish_many([], "a")) == ([], [])


async def test_finish_many_a_refused_result_fails_only_its_own_item(store: Store) -> None:
    records = await inserted(store, 3)
    refs = refs_of(*(r.id for r in records))
    await store.claim_many(refs, "a", later())
    # Beyond what MongoDB takes in one message (the wire server refuses nothing smaller);
    # SQLite takes it.
    huge = "x" * (50 * 1024 * 1024)
    outcomes = [Outcome(Status.COMPLETE, "one"), Outcome(Status.COMPLETE, huge)]
    outcomes.append(Outcome(Status.COMPLETE, "three"))

    answers = await store.finish_many(list(zip(refs, outcomes, strict=True)), "a")

    refuses = type(store).__module__.startswith("shared.adapters.mongo")
    assert written([answers[0], answers[2]]) == [True, True]
    if refuses:
        assert isinstance(answers[1], StoreRejected)
        left = await store.get(Q, refs[1].id)
        assert left is not None and left.status is Status.INPROGRESS  # still held: retryable
        assert written(await store.finish_many([(refs[1], Outcome(Status.ERROR))], "a")) == [True]
    else:
        assert written([answers[1]]) == [True]
    for ref, result in ((refs[0], "one"), (refs[2], "three")):
        got = await store.get(Q, ref.id)
        assert got is not None and (got.status, got.result) == (Status.COMPLETE, result)


async def test_a_batch_of_one_answers_as_its_single_call(store: Store) -> None:
    # One item (even listed twice) is the store's single call (MongoDB: one round trip).
    free, final, big = await inserted(store, 3)
    await store.claim(Q, final.id, "b", later())
    assert await store.finish(Q, final.id, "b", Outcome(Status.COMPLETE, "done"))
    claimed, again = await store.claim_many(refs_of(free.id, free.id), "a", later())
    assert (claimed.outcome, again.outcome) == (ClaimOutcome.CLAIMED, ClaimOutcome.BUSY)
    assert claimed.record is not None and claimed.record.attempts == 1
    (done,) = await store.claim_many(refs_of(final.id), "a", later())
    assert done.outcome is ClaimOutcome.FINAL and done.record is not None
    (gone,) = await store.claim_many(refs_of("no-such-id"), "a", later())
    assert gone.outcome is ClaimOutcome.GONE
    ref = MessageRef(Q, free.id)
    answers = await store.finish_many(
        [(ref, Outcome(Status.COMPLETE, 1)), (ref, Outcome(Status.COMPLETE, 2))], "a"
    )
    assert written(answers) == [True, False]
    assert isinstance(answers[0], Finished) and answers[0].record == await store.get(Q, free.id)
    assert written(await store.finish_many([(ref, Outcome(Status.COMPLETE, 3))], "a")) == [False]
    await store.claim(Q, big.id, "a", later())
    (answer,) = await store.finish_many(
        [(MessageRef(Q, big.id), Outcome(Status.COMPLETE, "x" * (50 * 1024 * 1024)))], "a"
    )
    if type(store).__module__.startswith("shared.adapters.mongo"):
        assert isinstance(answer, StoreRejected)
        left = await store.get(Q, big.id)
        assert left is not None and left.status is Status.INPROGRESS  # still held: retryable
    else:
        assert written([answer]) == [True]
