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

from pymongo import ReturnDocument

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.adapters.mongo.documents import (
    INPROGRESS,
    PENDING,
    held,
    plus_one,
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
    MessageRef,
    Outcome,
    ProgressReports,
)

CLAIM_TRIES = 3


class MongoClaims(Claims, ProgressReports):
    """The ``Claims`` and ``ProgressReports`` part of ``MongoStore`` (uses only its
    :class:`MongoConnection`)."""

    _db: MongoConnection

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        key: Doc = {"_id": message_id, "queue": queue}
        record: MessageRecord | None = None
        for _ in range(CLAIM_TRIES):
            now = utcnow()
            due = [{"not_before": None}, {"not_before": {"$lte": now}}]  # not a waiting retry
            claimable = [
                {"status": PENDING, "$or": due},
                {"status": INPROGRESS, "lease_until": {"$lt": now}},
            ]
            fields = {"status": INPROGRESS, "owner": owner, "lease_until": lease_until}
            fields |= {"updated_at": now, "published": True, "not_before": None, "progress": None}
            update = status_write(
                fields, owner, attempt=plus_one("attempts"), plus=("attempts", "deliveries")
            )
            with mapped():
                col = self._db.messages
                doc = await col.find_one_and_update(
                    {**key, "$or": claimable}, update, return_document=ReturnDocument.AFTER
                )
                if doc is not None:
                    return Claim(ClaimOutcome.CLAIMED, to_record(doc))
                doc = await col.find_one(key)
            if doc is None:
                return Claim(ClaimOutcome.GONE)
            record = to_record(doc)
            if record.status.final:
                return Claim(ClaimOutcome.FINAL, record)
            lease, not_before = doc.get("lease_until"), doc.get("not_before")
            if record.status is Status.INPROGRESS and (lease is None or lease >= utcnow()):
                return Claim(ClaimOutcome.BUSY, record)
            if record.status is Status.PENDING and not_before is not None and not_before > now:
                return Claim(ClaimOutcome.DEFERRED, record, not_before)
            # Released, or its lease ran out, between the two reads: claimable again.
        return Claim(ClaimOutcome.BUSY, record)

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
                held(queue, message_id, owner), status_write(_finished(outcome), owner)
            )
        return result.matched_count > 0

    async def finish_record(
        self, queue: str, message_id: str, owner: str, outcome: Outcome
    ) -> MessageRecord | None:
        with mapped():
            doc = await self._db.messages.find_one_and_update(
                held(queue, message_id, owner),
                status_write(_finished(outcome), owner),
                return_document=ReturnDocument.AFTER,
            )
        return to_record(doc) if doc is not None else None

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


def _finished(outcome: Outcome) -> Doc:
    """The fields ``Claims.finish`` sets."""
    return {
        "status": outcome.status.value,
        **put("result", outcome.result),
        **put_error(outcome.error),
        "updated_at": utcnow(),
        "expires_at": outcome.expires_at,
        "owner": None,
        "lease_until": None,
    }
