"""``shared.ports.Audit`` on the MongoDB store's audit collection.

A collection of its own, ``<messages collection>_audit``, one document per entry with
``_id`` = the entry's id, ``at`` (a BSON date), ``subject``, ``action``, ``queue``, ``target``
(a string, an object or null, stored as is) and ``count``. Indexes on ``(at, _id)`` (pages
of every queue, the retention's delete) and ``(queue, at, _id)`` (a queue's pages). Entries
are deleted by :meth:`MongoAudit.delete_audit_older_than` (the consumers' expiry sweep), not
by a TTL index: the retention is a setting, and a TTL index would fix it in the database.

Driver errors become ``StoreUnavailable`` (``connection.mapped``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.domain.audit_entry import AuditAction, AuditEntry
from shared.ports import Audit, ListCursor


async def create_indexes(col: AsyncCollection[Doc]) -> None:
    """The paging indexes (idempotent)."""
    await col.create_indexes(
        [
            IndexModel([("at", ASCENDING), ("_id", ASCENDING)]),
            IndexModel([("queue", ASCENDING), ("at", ASCENDING), ("_id", ASCENDING)]),
        ]
    )


def _doc(entry: AuditEntry) -> Doc:
    return {
        "_id": entry.id,
        "at": entry.at,
        "subject": entry.subject,
        "action": entry.action.value,
        "queue": entry.queue,
        "target": entry.target,
        "count": entry.count,
    }


def _entry(doc: Doc) -> AuditEntry:
    action = AuditAction(doc["action"])
    target = doc.get("target")
    return AuditEntry(
        doc.get("subject"), action, doc["queue"], target, doc["count"], doc["at"], doc["_id"]
    )


def _query(queues: Collection[str] | None, before: ListCursor | None) -> Doc:
    query: Doc = {}
    if queues is not None:
        query["queue"] = {"$in": list(queues)}
    if before is not None:
        at = before.created_at
        query["$or"] = [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": before.id}}]
    return query


class MongoAudit(Audit):
    """The ``Audit`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def record_audit(self, entry: AuditEntry) -> None:
        with mapped():
            await self._db.audit.insert_one(_doc(entry))

    async def list_audit(
        self, queues: Collection[str] | None, limit: int, before: ListCursor | None
    ) -> list[AuditEntry]:
        if queues is not None and not queues:
            return []
        order = [("at", DESCENDING), ("_id", DESCENDING)]
        with mapped():
            cursor = self._db.audit.find(_query(queues, before)).sort(order).limit(limit)
            return [_entry(doc) async for doc in cursor]

    async def delete_audit_older_than(self, before: datetime) -> int:
        with mapped():
            result = await self._db.audit.delete_many({"at": {"$lt": before}})
        return result.deleted_count
