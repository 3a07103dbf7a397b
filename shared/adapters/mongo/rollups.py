"""``shared.ports.Rollups`` on the MongoDB store's rollups collection.

A collection of its own, ``<messages collection>_rollups``, one document per (queue, minute)
with ``_id`` = ``"<queue>/<epoch minute>"``, ``queue``, ``minute`` (a BSON date), the
outcome counters and ``buckets`` (``{"<bucket>": runs}``). An add is one upsert per row
with ``$inc`` on every counter and bucket, atomic on its document, so adds from several
processes sum exactly. Driver errors become ``StoreUnavailable`` (``connection.mapped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.domain.run_stats import COUNTERS, Rollup, minute_of
from shared.ports import Rollups, StoreUnavailable

#: The rollups' collection is ``<messages collection><ROLLUPS_SUFFIX>``.
ROLLUPS_SUFFIX = "_rollups"
INDEXES = [
    IndexModel([("minute", ASCENDING)]),
    IndexModel([("queue", ASCENDING), ("minute", ASCENDING)]),
]


def collection(db: MongoConnection) -> AsyncCollection[Doc]:
    """The rollups' collection of the store ``db`` (StoreUnavailable while closed)."""
    if db.client is None:
        raise StoreUnavailable("store is not open")
    database, messages = db.names
    return db.client[database][messages + ROLLUPS_SUFFIX]


async def create_indexes(col: AsyncCollection[Doc]) -> None:
    """The indexes of reads by queue and of prunes by minute (idempotent)."""
    await col.create_indexes(INDEXES)


async def _add(col: AsyncCollection[Doc], row: Rollup) -> None:
    """``$inc`` the row's counters and buckets into its document, creating it if none."""
    minute = minute_of(row.minute.timestamp())
    inc = {name: count for name, count in row.counts().items() if count}
    inc |= {f"buckets.{index}": runs for index, runs in row.buckets.items()}
    key = f"{row.queue}/{int(minute.timestamp())}"
    update = {"$inc": inc, "$setOnInsert": {"queue": row.queue, "minute": minute}}
    try:
        await col.update_one({"_id": key}, update, upsert=True)
    except DuplicateKeyError:  # a concurrent first add created it: now it matches
        await col.update_one({"_id": key}, update)


def _rollup(doc: Doc) -> Rollup:
    counts = {name: int(doc.get(name, 0)) for name in COUNTERS}
    buckets = {int(index): int(runs) for index, runs in (doc.get("buckets") or {}).items()}
    return Rollup(doc["queue"], doc["minute"], **counts, buckets=buckets)


class MongoRollups(Rollups):
    """The ``Rollups`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def add_rollups(self, rows: Sequence[Rollup]) -> None:
        with mapped():
            col = collection(self._db)
            for row in rows:
                await _add(col, row)

    async def read_rollups(self, queue: str, since: datetime) -> list[Rollup]:
        start = minute_of(since.timestamp())
        with mapped():
            cursor = collection(self._db).find(
                {"queue": queue, "minute": {"$gte": start}}, sort=[("minute", ASCENDING)]
            )
            return [_rollup(doc) async for doc in cursor]

    async def prune_rollups(self, before: datetime) -> int:
        with mapped():
            result = await collection(self._db).delete_many({"minute": {"$lt": before}})
        return result.deleted_count
