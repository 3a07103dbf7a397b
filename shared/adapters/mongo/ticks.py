"""``shared.ports.ScheduleStates`` on the MongoDB store's schedules collection.

A collection of its own, ``<messages collection>_schedules``, one document per schedule with
``_id`` = ``"<queue>/<name>"`` (neither may contain ``/``), so each operation is a
single-document write, atomic on its own. Driver errors become ``StoreUnavailable``
(``connection.mapped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.ports import ScheduleState, ScheduleStates


def doc_id(queue: str, name: str) -> str:
    return f"{queue}/{name}"


async def _states(col: AsyncCollection[Doc]) -> list[ScheduleState]:
    """Every document."""
    return [
        ScheduleState(
            queue=doc["queue"],
            name=doc["name"],
            fingerprint=doc["fingerprint"],
            last_tick=doc["last_tick"],
            last_message_id=doc.get("last_message_id"),
        )
        async for doc in col.find({})
    ]


async def _anchor(col: AsyncCollection[Doc], state: ScheduleState) -> bool:
    """Upsert unless a document with the same fingerprint exists; True if written."""
    fields = {
        "queue": state.queue,
        "name": state.name,
        "fingerprint": state.fingerprint,
        "last_tick": state.last_tick,
    }
    try:
        result = await col.update_one(
            {"_id": doc_id(state.queue, state.name), "fingerprint": {"$ne": state.fingerprint}},
            {"$set": fields, "$setOnInsert": {"last_message_id": state.last_message_id}},
            upsert=True,
        )
    except DuplicateKeyError:  # it exists with this fingerprint (a concurrent anchor won)
        return False
    return bool(result.modified_count or result.upserted_id is not None)


async def _advance(
    col: AsyncCollection[Doc],
    queue: str,
    name: str,
    fingerprint: str,
    tick: datetime,
    message_id: str,
) -> bool:
    """Move ``last_tick`` forward to ``tick``; True if it moved."""
    result = await col.update_one(
        {"_id": doc_id(queue, name), "fingerprint": fingerprint, "last_tick": {"$lt": tick}},
        {"$set": {"last_tick": tick, "last_message_id": message_id}},
    )
    return result.modified_count > 0


async def _forget(col: AsyncCollection[Doc], queue: str, names: Sequence[str]) -> int:
    """Delete ``queue``'s documents named ``names``; how many."""
    if not names:
        return 0
    result = await col.delete_many({"_id": {"$in": [doc_id(queue, n) for n in names]}})
    return result.deleted_count


class MongoTicks(ScheduleStates):
    """The ``ScheduleStates`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def schedule_states(self) -> list[ScheduleState]:
        with mapped():
            return await _states(self._db.schedules)

    async def anchor_schedule(self, state: ScheduleState) -> bool:
        with mapped():
            return await _anchor(self._db.schedules, state)

    async def advance_schedule(
        self, queue: str, name: str, fingerprint: str, tick: datetime, message_id: str
    ) -> bool:
        with mapped():
            return await _advance(self._db.schedules, queue, name, fingerprint, tick, message_id)

    async def forget_schedules(self, queue: str, names: Sequence[str]) -> int:
        with mapped():
            return await _forget(self._db.schedules, queue, names)
