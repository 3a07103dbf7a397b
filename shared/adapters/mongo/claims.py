"""``shared.ports.Claims`` and ``ProgressReports`` on the MongoDB store's messages collection.

Every transition is one conditional single-document update (no transactions), which is
what makes a claim atomic: ``find_one_and_update`` matching ``PENDING`` or ``INPROGRESS``
with an expired lease. A cancel is PENDING → CANCELLED first, else INPROGRESS →
``cancel_requested: true``, else a read tells FINAL from GONE; so a claim or final write
racing in another process is never overwritten. Lease times come from the caller's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bson.errors import BSONError
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DocumentTooLarge, PyMongoError

from shared.adapters.mongo.batches import (
    BATCH,
    batch_id,
    by_ref,
    claim_ops,
    claim_update,
    claimable,
    final_fields,
    finish_ops,
    first_of_each,
    in_order,
    refused,
    unclaimed,
)
from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.adapters.mongo.documents import (
    INPROGRESS,
    PENDING,
    held,
    put,
    put_error,
    released,
    status_write,
    to_record,
)
from shared.domain.message import ErrorInfo, MessageRecord, Progress, Status, utcnow
from shared.ports import (
    Cancel,
    CancelOutcome,
    Claim,
    ClaimOutcome,
    Claims,
    Finished,
    MessageRef,
    Outcome,
    ProgressReports,
    StoreRejected,
    StoreUnavailable,
)

CLAIM_TRIES = 3


def unwritten(_: object) -> Finished:
    """A ref's later copy in one batch of final writes: not written again."""
    return Finished(False)


def _busy_again(claim: Claim) -> Claim:
    """A ref's later copy in one batch of claims: BUSY when the first copy claimed it (its
    lease is live), else the first copy's answer."""
    if claim.outcome is ClaimOutcome.CLAIMED:
        return Claim(ClaimOutcome.BUSY, claim.record)
    return claim


class MongoClaims(Claims, ProgressReports):
    """The ``Claims`` and ``ProgressReports`` part of ``MongoStore`` (uses only its
    :class:`MongoConnection`)."""

    _db: MongoConnection

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        record: MessageRecord | None = None
        for _ in range(CLAIM_TRIES):
            now = utcnow()
            update = claim_update(owner, lease_until, now, None)
            with mapped():
                col = self._db.messages
                doc = await col.find_one_and_update(
                    claimable(queue, message_id, now), update, return_document=ReturnDocument.AFTER
                )
                if doc is not None:
                    return Claim(ClaimOutcome.CLAIMED, to_record(doc))
                doc = await col.find_one({"_id": message_id, "queue": queue})
            answer = unclaimed(doc, now)
            if answer is not None:
                return answer
            record = to_record(doc) if doc is not None else None
            # Released, or its lease ran out, between the two reads: claimable again.
        return Claim(ClaimOutcome.BUSY, record)

    async def claim_many(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[Claim]:
        """One unordered ``bulk_write`` stamping what it claims, then one ``find``; a single
        ref is one :meth:`claim` (one ``find_one_and_update``) instead."""
        if not refs:
            return []
        unique, now, batch = list(dict.fromkeys(refs)), utcnow(), batch_id()
        if len(unique) == 1:  # one ref: the single claim is one round trip, not two
            (ref,) = unique
            claimed = {ref: await self.claim(ref.queue, ref.id, owner, lease_until)}
            return in_order(refs, claimed, _busy_again)
        with mapped():
            col = self._db.messages
            await col.bulk_write(claim_ops(unique, owner, lease_until, now, batch), ordered=False)
            docs = by_ref(await col.find({"_id": {"$in": [r.id for r in unique]}}).to_list(None))
        answers: dict[MessageRef, Claim] = {}
        for ref in unique:
            doc = docs.get(ref)
            if doc is not None and doc.get(BATCH) == batch and doc.get("owner") == owner:
                answers[ref] = Claim(ClaimOutcome.CLAIMED, to_record(doc))
                continue
            answer = unclaimed(doc, now)
            if answer is None:  # claimable again since: as a single claim retries it
                answer = await self.claim(ref.queue, ref.id, owner, lease_until)
            answers[ref] = answer
        return in_order(refs, answers, _busy_again)

    async def renew(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[MessageRef]:
        if not refs:
            return []
        current: Doc = {"_id": {"$in": [r.id for r in refs]}, "owner": owner}
        current["status"] = INPROGRESS
        with mapped():
            col = self._db.messages
            await col.update_many(current, {"$set": {"lease_until": lease_until}})
            cancelled = {**current, "cancel_requested": True}
            docs = await col.find(cancelled, {"queue": 1}).to_list(None)
        return [MessageRef(doc["queue"], doc["_id"]) for doc in docs]

    async def cancel(self, queue: str, message_id: str, expires_at: datetime | None) -> Cancel:
        key: Doc = {"_id": message_id, "queue": queue}
        now = utcnow()
        fields: Doc = {"status": Status.CANCELLED.value, "not_before": None, "owner": None}
        fields |= {"lease_until": None, "updated_at": now, "expires_at": expires_at}
        after = ReturnDocument.AFTER
        with mapped():
            col = self._db.messages
            doc = await col.find_one_and_update(
                {**key, "status": PENDING}, status_write(fields, None), return_document=after
            )
            if doc is not None:
                return Cancel(CancelOutcome.CANCELLED, to_record(doc))
            doc = await col.find_one_and_update(
                {**key, "status": INPROGRESS},
                {"$set": {"cancel_requested": True, "updated_at": now}, "$inc": {"version": 1}},
                return_document=after,
            )
            if doc is not None:
                return Cancel(CancelOutcome.REQUESTED, to_record(doc))
            doc = await col.find_one(key)
        if doc is None:
            return Cancel(CancelOutcome.GONE)
        return Cancel(CancelOutcome.FINAL, to_record(doc))

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        with mapped():
            result = await self._db.messages.update_one(
                held(queue, message_id, owner),
                status_write(final_fields(outcome, utcnow()), owner),
            )
        return result.matched_count > 0

    async def finish_record(
        self, queue: str, message_id: str, owner: str, outcome: Outcome
    ) -> MessageRecord | None:
        with mapped():
            doc = await self._db.messages.find_one_and_update(
                held(queue, message_id, owner),
                status_write(final_fields(outcome, utcnow()), owner),
                return_document=ReturnDocument.AFTER,
            )
        return to_record(doc) if doc is not None else None

    async def finish_many(
        self, items: Sequence[tuple[MessageRef, Outcome]], owner: str
    ) -> list[Finished | StoreRejected]:
        """One unordered ``bulk_write``, then one ``find`` of the documents it stamped: they
        say which were written when not all matched, and are the records carried to the
        waiters (each only while still final; one changed or deleted since carries none).
        A single item is one ``find_one_and_update`` (:meth:`finish_record`) instead."""
        if not items:
            return []
        unique, batch = first_of_each(items), batch_id()
        if len(unique) == 1:  # one item: one find_one_and_update, not a bulk and a find
            return in_order(
                [ref for ref, _ in items], await self._finish_one(*unique[0], owner), unwritten
            )
        refs = [ref for ref, _ in unique]
        answers: dict[MessageRef, Finished | StoreRejected] = {}
        col = self._db.messages
        try:
            result = await col.bulk_write(finish_ops(unique, owner, utcnow(), batch), ordered=False)
            all_matched = result.matched_count == len(unique)
        except BulkWriteError as exc:
            answers.update(refused(exc, refs))
            all_matched = exc.details.get("nMatched", 0) == len(unique) - len(answers)
        except DocumentTooLarge:  # one too large to send: which were sent is not known
            return in_order(
                [ref for ref, _ in items], await self._one_by_one(unique, owner, batch), unwritten
            )
        except (PyMongoError, BSONError) as exc:
            raise StoreUnavailable(f"mongodb: {exc}") from exc
        stamped = await self._stamped(refs, batch)
        for ref in refs:
            if ref in answers:
                continue
            doc = stamped.get(ref)
            record = to_record(doc) if doc is not None else None
            if record is not None and not record.status.final:
                record = None
            answers[ref] = Finished(all_matched or doc is not None, record)
        return in_order([ref for ref, _ in items], answers, unwritten)

    async def _finish_one(
        self, ref: MessageRef, outcome: Outcome, owner: str
    ) -> dict[MessageRef, Finished | StoreRejected]:
        """:meth:`finish_many`'s answer for one item, from :meth:`finish_record`."""
        try:
            record = await self.finish_record(ref.queue, ref.id, owner, outcome)
        except StoreRejected as exc:
            return {ref: exc}
        return {ref: Finished(record is not None, record)}

    async def _stamped(self, refs: Sequence[MessageRef], batch: str) -> dict[MessageRef, Doc]:
        """The documents of ``refs`` the batch ``batch`` wrote (and nothing wrote since)."""
        with mapped():
            found = self._db.messages.find({"_id": {"$in": [r.id for r in refs]}, BATCH: batch})
            return by_ref(await found.to_list(None))

    async def _one_by_one(
        self, items: Sequence[tuple[MessageRef, Outcome]], owner: str, batch: str
    ) -> dict[MessageRef, Finished | StoreRejected]:
        """After a bulk refused as a whole: the items it wrote, then each other one alone."""
        answers: dict[MessageRef, Finished | StoreRejected] = {
            ref: Finished(True, to_record(doc))
            for ref, doc in (await self._stamped([ref for ref, _ in items], batch)).items()
        }
        for ref, outcome in items:
            if ref not in answers:
                try:
                    record = await self.finish_record(ref.queue, ref.id, owner, outcome)
                    answers[ref] = Finished(record is not None, record)
                except StoreRejected as exc:
                    answers[ref] = exc
        return answers

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        with mapped():
            result = await self._db.messages.update_one(
                held(queue, message_id, owner), status_write(released(), owner)
            )
        return result.matched_count > 0

    async def schedule_retry(
        self, queue: str, message_id: str, owner: str, error: ErrorInfo, not_before: datetime
    ) -> bool:
        fields: Doc = {**released(), **put("result", None), **put_error(error)}
        fields |= {"not_before": not_before, "deliveries": 0, "published": False}
        with mapped():
            result = await self._db.messages.update_one(
                held(queue, message_id, owner), status_write(fields, owner)
            )
        return result.matched_count > 0

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        fields: Doc = {**released(), **put("result", None), **put_error(None)}
        fields |= {"attempts": 0, "deliveries": 0, "not_before": None, "published": False}
        fields |= {"expires_at": None, "cancel_requested": False}  # PENDING never expires
        fields["progress"] = None
        with mapped():
            doc = await self._db.messages.find_one_and_update(
                {"_id": message_id, "queue": queue, "status": Status.ERROR.value},
                status_write(fields, None, attempt=0),
                return_document=ReturnDocument.AFTER,
            )
        return to_record(doc) if doc is not None else None

    async def record_progress(
        self, queue: str, message_id: str, owner: str, progress: Progress
    ) -> bool:
        report = {"fraction": progress.fraction, "note": progress.note, "at": progress.at}
        with mapped():
            result = await self._db.messages.update_one(
                held(queue, message_id, owner),
                {"$set": {"progress": report}, "$inc": {"version": 1}},
            )
        return result.matched_count > 0
