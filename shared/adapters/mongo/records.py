"""``shared.ports.Records`` on the MongoDB store's messages collection.

``_id`` is the message id, so of concurrent inserts of one id exactly one succeeds. A batch
is one unordered ``insert_many``; when the server refuses some documents for size only,
those ids are the batch's answer and the rest is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.adapters.mongo.connection import TOO_LARGE_CODES, MongoConnection, mapped
from shared.adapters.mongo.documents import new_doc, to_record
from shared.adapters.mongo.search import match_filter
from shared.adapters.record_fields import counts_from_groups, final_statuses, finished_from_groups
from shared.domain.message import MessageRecord, Status
from shared.ports import (
    FieldMatch,
    ListCursor,
    QueueCounts,
    RecordExists,
    Records,
    StoreRejected,
    StoreUnavailable,
)


def _rejected_in_bulk(
    error: BaseException | None, records: Sequence[MessageRecord]
) -> list[str] | None:
    """The ids an unordered ``insert_many`` refused for size, if that was its only failure."""
    if not isinstance(error, BulkWriteError):
        return None
    failures = error.details.get("writeErrors", [])
    if error.details.get("writeConcernErrors") or not failures:
        return None
    if any(f.get("code") not in TOO_LARGE_CODES for f in failures):
        return None
    return [records[f["index"]].id for f in failures]


class MongoRecords(Records):
    """The ``Records`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def insert(self, record: MessageRecord) -> None:
        doc = new_doc(record)
        try:
            with mapped():
                await self._db.messages.insert_one(doc)
        except StoreUnavailable as exc:
            if isinstance(exc.__cause__, DuplicateKeyError):  # _id is unique: one insert wins
                raise RecordExists(f"message {record.id} exists") from None
            raise

    async def insert_many(self, records: Sequence[MessageRecord]) -> list[str]:
        if not records:
            return []
        try:
            with mapped():
                await self._db.messages.insert_many([new_doc(r) for r in records], ordered=False)
        except StoreRejected:  # one is too large for a batch: insert one by one
            return await self._insert_each(records)
        except StoreUnavailable as exc:
            rejected = _rejected_in_bulk(exc.__cause__, records)
            if rejected is None:
                raise
            return rejected
        return []

    async def _insert_each(self, records: Sequence[MessageRecord]) -> list[str]:
        rejected: list[str] = []
        for record in records:
            try:
                await self.insert(record)
            except StoreRejected:
                rejected.append(record.id)
            except RecordExists as exc:  # insert_many's contract: any other failure
                raise StoreUnavailable(str(exc)) from exc
        return rejected

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        with mapped():
            doc = await self._db.messages.find_one({"_id": message_id, "queue": queue})
        return to_record(doc) if doc is not None else None

    async def delete(self, queue: str, message_id: str) -> bool:
        with mapped():
            result = await self._db.messages.delete_one({"_id": message_id, "queue": queue})
        return result.deleted_count > 0

    async def list_records(
        self,
        queue: str,
        status: Status | None,
        limit: int,
        before: ListCursor | None,
        where: Sequence[FieldMatch] = (),
    ) -> list[MessageRecord]:
        cond = match_filter(queue, status, where, before)
        with mapped():
            cursor = self._db.messages.find(cond)
            cursor = cursor.sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            docs = await cursor.limit(limit).to_list(None)
        return [to_record(doc) for doc in docs]

    async def counts(self) -> dict[str, QueueCounts]:
        group = {
            "_id": {"queue": "$queue", "status": "$status"},
            "count": {"$sum": 1},
            "oldest": {"$min": "$created_at"},
        }
        with mapped():
            cursor = await self._db.messages.aggregate([{"$group": group}])
            docs = await cursor.to_list(None)
        return counts_from_groups(
            (d["_id"]["queue"], d["_id"]["status"], d["count"], d["oldest"]) for d in docs
        )

    async def finished_since(self, since: datetime) -> dict[str, dict[Status, int]]:
        match = {"status": {"$in": final_statuses()}, "updated_at": {"$gte": since}}
        group = {"_id": {"queue": "$queue", "status": "$status"}, "count": {"$sum": 1}}
        with mapped():
            cursor = await self._db.messages.aggregate([{"$match": match}, {"$group": group}])
            docs = await cursor.to_list(None)
        return finished_from_groups(
            (d["_id"]["queue"], d["_id"]["status"], d["count"]) for d in docs
        )
