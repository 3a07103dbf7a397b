"""``shared.ports.Recovery`` on the MongoDB store's messages collection.

MongoDB has no multi-document ``RETURNING``: a decision over many documents finds the
candidates, then updates each under the same condition (:meth:`MongoSweeps._update_each`),
so one claimed or finished meanwhile is left alone. Scans page by ``(created_at, _id)``,
``MongoConnection.page`` documents a read. Expiry is the TTL index's job
(``collection``): :meth:`MongoSweeps.delete_expired` does nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from pymongo import ASCENDING

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.adapters.mongo.documents import (
    INPROGRESS,
    PENDING,
    put_error,
    released,
    status_write,
)
from shared.domain.message import ErrorInfo, Status, utcnow
from shared.ports import MessageRef, Recovery


class MongoSweeps(Recovery):
    """The ``Recovery`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def mark_published(self, refs: Sequence[MessageRef]) -> None:
        if refs:
            with mapped():
                await self._db.messages.update_many(
                    {"_id": {"$in": [r.id for r in refs]}}, {"$set": {"published": True}}
                )

    async def _scan(self, where: Doc) -> AsyncIterator[MessageRef]:
        """Matching records oldest first, paged by (created_at, _id)."""
        query = where
        page = self._db.page
        while True:
            with mapped():
                cursor = self._db.messages.find(query, {"queue": 1, "created_at": 1})
                cursor = cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)])
                docs = await cursor.limit(page).to_list(None)
            for doc in docs:
                yield MessageRef(doc["queue"], doc["_id"])
            if len(docs) < page:
                return
            at, last = docs[-1]["created_at"], docs[-1]["_id"]
            after = [{"created_at": {"$gt": at}}, {"created_at": at, "_id": {"$gt": last}}]
            query = {**where, "$or": after}

    def unpublished(self, older_than: datetime) -> AsyncIterator[MessageRef]:
        return self._scan(
            {"status": PENDING, "published": False, "created_at": {"$lt": older_than}}
        )

    def pending(self) -> AsyncIterator[MessageRef]:
        due = [{"not_before": None}, {"not_before": {"$lte": utcnow()}}]
        return self._scan({"status": PENDING, "$or": due})

    async def next_due(self) -> datetime | None:
        with mapped():
            doc = await self._db.messages.find_one(
                {"status": PENDING, "not_before": {"$ne": None}},
                {"not_before": 1},
                sort=[("not_before", ASCENDING)],
            )
        return doc["not_before"] if doc is not None else None

    async def release_all_inprogress(self) -> int:
        with mapped():
            result = await self._db.messages.update_many(
                {"status": INPROGRESS}, status_write(released(), None)
            )
        return result.modified_count

    async def fail_abandoned(
        self, expired_before: datetime, min_attempts: int, error: ErrorInfo
    ) -> list[MessageRef]:
        cond: Doc = {"status": INPROGRESS, "lease_until": {"$lt": expired_before}}
        cond["cancel_requested"] = {"$ne": True}  # those end CANCELLED (Recovery docstring)
        # Deliveries since the last retry/redrive; records from before that field: attempts.
        cond["$or"] = [
            {"deliveries": {"$gte": min_attempts}},
            {"deliveries": {"$exists": False}, "attempts": {"$gte": min_attempts}},
        ]
        fields: Doc = {"status": Status.ERROR.value, **put_error(error), "owner": None}
        return await self._update_each(
            cond, status_write({**fields, "lease_until": None, "updated_at": utcnow()}, None)
        )

    async def _update_each(self, cond: Doc, fields: Doc | list[Doc]) -> list[MessageRef]:
        """Set ``fields`` on each record matching ``cond``, re-checking ``cond`` per record
        (no multi-document RETURNING); the refs of those updated."""
        done: list[MessageRef] = []
        page = self._db.page
        while True:
            with mapped():
                col = self._db.messages
                docs = await col.find(cond, {"queue": 1}).limit(page).to_list(None)
                for doc in docs:
                    result = await col.update_one({**cond, "_id": doc["_id"]}, fields)
                    if result.matched_count:
                        done.append(MessageRef(doc["queue"], doc["_id"]))
            if len(docs) < page:
                return done

    async def release_expired(self, expired_before: datetime) -> list[MessageRef]:
        cond: Doc = {"status": INPROGRESS, "lease_until": {"$lt": expired_before}}
        return await self._update_each(
            cond, status_write({**released(), "published": False, "updated_at": utcnow()}, None)
        )

    async def take_overdue(self, due_before: datetime) -> list[MessageRef]:
        cond: Doc = {"status": PENDING, "not_before": {"$ne": None, "$lt": due_before}}
        return await self._update_each(cond, {"$set": {"not_before": None, "published": False}})

    async def count_queued(self, queue: str) -> int:
        with mapped():
            return int(await self._db.messages.count_documents(_queued(queue, utcnow())))

    async def idle_queued(self, queue: str, idle_before: datetime, limit: int) -> list[MessageRef]:
        if limit <= 0:
            return []
        cond = {**_queued(queue, idle_before), "updated_at": {"$lt": idle_before}}
        with mapped():
            cursor = self._db.messages.find(cond, {"_id": 1})
            cursor = cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            docs = await cursor.limit(limit).to_list(None)
        return [MessageRef(queue, doc["_id"]) for doc in docs]

    async def delete_expired(self, now: datetime) -> int:
        return 0  # the TTL index does it


def _queued(queue: str, due: datetime) -> Doc:
    """``queued`` records of ``queue`` marked published and due at ``due`` (count_queued)."""
    return {
        "queue": queue,
        "status": PENDING,
        "published": True,
        "$or": [{"not_before": None}, {"not_before": {"$lt": due}}],
    }
