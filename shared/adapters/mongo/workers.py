"""``shared.ports.Workers`` on the MongoDB store's workers collection.

A collection of its own, ``<messages collection>_workers``, one document per worker with
``_id`` = the worker id; a beat is one ``replace_one(upsert=True)``, atomic on its own.
Times are BSON dates (millisecond precision). Driver errors become ``StoreUnavailable``
(``connection.mapped``).
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.ports import StoreUnavailable, WorkerInfo, Workers

#: The collection is ``<messages collection><WORKERS_SUFFIX>``.
WORKERS_SUFFIX = "_workers"


def _collection(db: MongoConnection) -> AsyncCollection[Doc]:
    if db.client is None:
        raise StoreUnavailable("store is not open")
    database, collection = db.names
    return db.client[database][collection + WORKERS_SUFFIX]


def _document(info: WorkerInfo) -> Doc:
    return {
        "host": info.host,
        "pid": info.pid,
        "version": info.version,
        "queues": list(info.queues),
        "concurrency": info.concurrency,
        "in_flight": info.in_flight,
        "started_at": info.started_at,
        "last_seen_at": info.last_seen_at,
    }


def _info(doc: Doc) -> WorkerInfo:
    return WorkerInfo(
        id=doc["_id"],
        host=doc["host"],
        pid=doc["pid"],
        version=doc["version"],
        queues=tuple(doc["queues"]),
        concurrency=doc["concurrency"],
        in_flight=doc["in_flight"],
        started_at=doc["started_at"],
        last_seen_at=doc["last_seen_at"],
    )


class MongoWorkers(Workers):
    """The ``Workers`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def beat(self, info: WorkerInfo) -> None:
        with mapped():
            await _collection(self._db).replace_one({"_id": info.id}, _document(info), upsert=True)

    async def list_workers(self) -> list[WorkerInfo]:
        with mapped():
            return [_info(doc) async for doc in _collection(self._db).find({}).sort("_id", 1)]

    async def prune(self, older_than: datetime) -> int:
        with mapped():
            result = await _collection(self._db).delete_many({"last_seen_at": {"$lt": older_than}})
            return result.deleted_count
