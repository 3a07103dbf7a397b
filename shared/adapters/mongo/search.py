"""``shared.ports.Search`` on the MongoDB store: one partial index per indexed field.

The index of field ``f`` of queue ``q`` is ``{"request.f": 1, "created_at": -1, "_id": -1}``
named ``search.q.f`` with ``partialFilterExpression: {"queue": "q"}``: documents of other
queues never enter it (a queue with no indexed field has no index entry written for its
pushes), and a filtered listing walks it newest first, stopping after ``limit``.
``create_index`` builds it while the collection stays readable and writable (MongoDB 4.2+
holds its exclusive lock only at the start and end of a build), so building is safe to run
in the background from any number of gateways at once (the same name and keys: a no-op once
built).

A request MongoDB cannot hold natively is stored as JSON text (``documents``); its top-level
scalar fields are then also kept native in ``request`` (``documents.searchable``), so
matching is exact for every record. A term also excludes arrays (MongoDB matches an array
holding the value; the schema forbids one, but a record pushed before the schema changed may
have one). Numbers compare numerically (``1`` equals ``1.0``) and
``true`` never equals ``1``, as in the SQLite store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, DESCENDING

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.domain.message import Status
from shared.ports import FieldMatch, ListCursor, Search


def match_filter(
    queue: str,
    status: Status | None,
    where: Sequence[FieldMatch],
    before: ListCursor | None,
    after: datetime | None = None,
) -> Doc:
    """The filter selecting these records of ``queue``."""
    cond: Doc = {"queue": queue}
    for term in where:
        path = f"request.{term.field}"
        # Not an array: MongoDB would match an array holding the value (SQLite does not).
        test = {"$eq": term.value, "$not": {"$type": "array"}}
        if path in cond:  # the same field twice: both must hold
            cond.setdefault("$and", []).append({path: test})
        else:
            cond[path] = test
    if status is not None:
        cond["status"] = status.value
    if before is not None:
        cond["$or"] = [
            {"created_at": {"$lt": before.created_at}},
            {"created_at": before.created_at, "_id": {"$lt": before.id}},
        ]
    if after is not None:
        cond["created_at"] = {"$gt": after}
    return cond


class MongoSearch(Search):
    """The ``Search`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def build_index(self, queue: str, field: str) -> None:
        keys = [(f"request.{field}", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
        with mapped():
            await self._db.messages.create_index(
                keys, name=f"search.{queue}.{field}", partialFilterExpression={"queue": queue}
            )

    async def count_records(
        self,
        queue: str,
        status: Status | None,
        where: Sequence[FieldMatch],
        limit: int,
        before: ListCursor | None = None,
        after: datetime | None = None,
    ) -> int:
        cond = match_filter(queue, status, where, before, after)
        with mapped():
            return int(await self._db.messages.count_documents(cond, limit=limit))
