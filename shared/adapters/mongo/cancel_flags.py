"""Cancellation in the MongoDB store (``Claims.cancel`` and the flag ``renew`` reports).

Every step is one conditional single-document update (no transactions): PENDING →
CANCELLED first, else INPROGRESS → ``cancel_requested: true``, else a read tells FINAL from
GONE. A claim or final write racing in another process is therefore never overwritten.
Driver errors propagate; the store maps them to ``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from shared.domain.message import MessageRecord, Status, utcnow
from shared.ports import Cancel, CancelOutcome, MessageRef

Doc = dict[str, Any]
ToRecord = Callable[[Mapping[str, Any]], MessageRecord]
#: The store's status-write pipeline builder (bumps ``version``, appends to ``history``).
StatusWrite = Callable[[Doc, str | None], list[Doc]]


async def cancel(
    col: AsyncCollection[Doc],
    to_record: ToRecord,
    status_write: StatusWrite,
    queue: str,
    message_id: str,
    expires_at: datetime | None,
) -> Cancel:
    """PENDING → CANCELLED, or INPROGRESS → ``cancel_requested``; else FINAL or GONE."""
    key: Doc = {"_id": message_id, "queue": queue}
    now = utcnow()
    fields: Doc = {"status": Status.CANCELLED.value, "not_before": None, "owner": None}
    fields |= {"lease_until": None, "updated_at": now, "expires_at": expires_at}
    after = ReturnDocument.AFTER
    doc = await col.find_one_and_update(
        {**key, "status": Status.PENDING.value},
        status_write(fields, None),
        return_document=after,
    )
    if doc is not None:
        return Cancel(CancelOutcome.CANCELLED, to_record(doc))
    doc = await col.find_one_and_update(
        {**key, "status": Status.INPROGRESS.value},
        {"$set": {"cancel_requested": True, "updated_at": now}, "$inc": {"version": 1}},
        return_document=after,
    )
    if doc is not None:
        return Cancel(CancelOutcome.REQUESTED, to_record(doc))
    doc = await col.find_one(key)
    if doc is None:
        return Cancel(CancelOutcome.GONE)
    return Cancel(CancelOutcome.FINAL, to_record(doc))


async def renew(
    col: AsyncCollection[Doc], refs: Sequence[MessageRef], owner: str, lease_until: datetime
) -> list[MessageRef]:
    """Extend the leases ``owner`` holds; the refs among them whose cancel was requested."""
    held: Doc = {"_id": {"$in": [r.id for r in refs]}, "owner": owner}
    held["status"] = Status.INPROGRESS.value
    await col.update_many(held, {"$set": {"lease_until": lease_until}})
    docs = await col.find({**held, "cancel_requested": True}, {"queue": 1}).to_list(None)
    return [MessageRef(doc["queue"], doc["_id"]) for doc in docs]
