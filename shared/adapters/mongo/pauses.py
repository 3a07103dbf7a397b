"""``shared.ports.QueuePauses`` on the MongoDB store: a collection of its own,
``<messages collection>_pauses`` (one document per paused queue, ``_id`` the queue name),
and parking in the messages collection (a parked record's ``not_before`` is
``PARKED_UNTIL``, found through the ``(status, not_before)`` index). Each write is a
single-document write, atomic on its own; unparking re-checks the condition per record, so
concurrent callers each get a record at most once. Driver errors become
``StoreUnavailable``."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.domain.message import PARKED_UNTIL, Status, utcnow
from shared.domain.pause import PauseState
from shared.ports import MessageRef, StoreUnavailable
from shared.ports.operations import QueuePauses

#: The pauses' collection is ``<messages collection><PAUSES_SUFFIX>``.
PAUSES_SUFFIX = "_pauses"
PENDING = Status.PENDING.value


class MongoPauses(QueuePauses):
    """The ``QueuePauses`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    def _pauses(self) -> AsyncCollection[Doc]:
        messages = self._db.messages
        return messages.database[messages.name + PAUSES_SUFFIX]

    async def pause_queue(self, state: PauseState) -> PauseState:
        fields = {"paused_at": state.paused_at, "paused_by": state.paused_by}
        with mapped():
            doc = await self._pauses().find_one_and_update(
                {"_id": state.queue}, {"$setOnInsert": fields}, upsert=True, return_document=True
            )
        if doc is None:  # an upsert returning the document after it always has one
            raise StoreUnavailable("mongodb: the pause was not written")
        return PauseState(state.queue, doc["paused_at"], doc.get("paused_by"))

    async def resume_queue(self, queue: str) -> bool:
        with mapped():
            result = await self._pauses().delete_one({"_id": queue})
        return result.deleted_count > 0

    async def paused_queues(self) -> list[PauseState]:
        with mapped():
            docs = await self._pauses().find({}).to_list(None)
        return [PauseState(d["_id"], d["paused_at"], d.get("paused_by")) for d in docs]

    async def park(self, queue: str, message_id: str, now: datetime) -> bool:
        due = [{"not_before": None}, {"not_before": {"$lte": now}}]
        cond: Doc = {"_id": message_id, "queue": queue, "status": PENDING, "$or": due}
        update: Doc = {"$set": {"not_before": PARKED_UNTIL, "updated_at": now}}
        with mapped():
            result = await self._db.messages.update_one(cond, update | {"$inc": {"version": 1}})
        return result.modified_count > 0

    async def unpark(self, queue: str, message_id: str | None = None) -> list[MessageRef]:
        cond: Doc = {"status": PENDING, "not_before": {"$gte": PARKED_UNTIL}, "queue": queue}
        if message_id is not None:
            cond["_id"] = message_id
        update: Doc = {
            "$set": {"not_before": None, "published": False, "updated_at": utcnow()},
            "$inc": {"version": 1},
        }
        done: list[MessageRef] = []
        with mapped():
            col = self._db.messages
            while True:
                docs = await col.find(cond, {"_id": 1}).limit(self._db.page).to_list(None)
                for doc in docs:
                    result = await col.update_one({**cond, "_id": doc["_id"]}, update)
                    if result.modified_count:
                        done.append(MessageRef(queue, doc["_id"]))
                if len(docs) < self._db.page:
                    return done
