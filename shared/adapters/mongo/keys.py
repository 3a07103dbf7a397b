"""``shared.ports.Keys`` on the MongoDB store's idempotency collection (see
:mod:`shared.domain.idempotency`).

A collection of its own, ``<messages collection>_idempotency``, one document per key with
``_id`` = the JSON text of ``[scope, key]`` (unique by construction, so of concurrent
reservations exactly one inserts), and a TTL index on ``expires_at``
(``expireAfterSeconds=0``) through which MongoDB deletes expired keys by itself. The TTL
monitor runs about once a minute, so an expired key that is still there is treated as absent:
a reservation replaces it with one conditional ``find_one_and_replace``.

Driver errors become ``StoreUnavailable`` (``connection.mapped``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.domain.idempotency import IdempotencyEntry, KeyState
from shared.domain.message import utcnow
from shared.ports import Keys

RESERVE_TRIES = 3


def doc_id(scope: str, key: str) -> str:
    """The ``_id`` of a key's document."""
    return json.dumps([scope, key], separators=(",", ":"))


async def create_indexes(col: AsyncCollection[Doc]) -> None:
    """The TTL index on ``expires_at`` (idempotent)."""
    await col.create_indexes([IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0)])


def _doc(entry: IdempotencyEntry) -> Doc:
    return {
        "_id": doc_id(entry.scope, entry.key),
        "scope": entry.scope,
        "key": entry.key,
        "body_hash": entry.body_hash,
        "message_id": entry.message_id,
        "state": KeyState.RESERVED.value,
        "created_at": entry.created_at,
        "expires_at": entry.expires_at,
    }


def _entry(doc: Mapping[str, Any]) -> IdempotencyEntry:
    return IdempotencyEntry(
        scope=doc["scope"],
        key=doc["key"],
        body_hash=doc["body_hash"],
        message_id=doc["message_id"],
        state=KeyState(doc["state"]),
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
    )


async def _reserve(col: AsyncCollection[Doc], entry: IdempotencyEntry) -> IdempotencyEntry | None:
    """None if ``entry`` now holds its key, else the live entry holding it."""
    doc = _doc(entry)
    held: Doc | None = None
    for _ in range(RESERVE_TRIES):
        try:
            await col.insert_one(doc)
            return None
        except DuplicateKeyError:
            pass
        expired = {"_id": doc["_id"], "expires_at": {"$lte": utcnow()}}
        if await col.find_one_and_replace(expired, doc) is not None:
            return None
        held = await col.find_one({"_id": doc["_id"]})
        if held is not None:
            return _entry(held)
        # Deleted (released or expired) between the two writes: try again.
    raise DuplicateKeyError(f"idempotency key {entry.key!r} kept changing under reservation")


async def _finish(col: AsyncCollection[Doc], scope: str, key: str, message_id: str) -> bool:
    """Mark the key DONE if it is still bound to ``message_id``."""
    result = await col.update_one(
        {"_id": doc_id(scope, key), "message_id": message_id},
        {"$set": {"state": KeyState.DONE.value}},
    )
    return result.matched_count > 0


async def _release(col: AsyncCollection[Doc], scope: str, key: str, message_id: str) -> bool:
    """Delete the key if it is still bound to ``message_id``."""
    result = await col.delete_one({"_id": doc_id(scope, key), "message_id": message_id})
    return result.deleted_count > 0


class MongoKeys(Keys):
    """The ``Keys`` part of ``MongoStore`` (uses only its :class:`MongoConnection`)."""

    _db: MongoConnection

    async def reserve_key(self, entry: IdempotencyEntry) -> IdempotencyEntry | None:
        with mapped():
            return await _reserve(self._db.keys, entry)

    async def finish_key(self, scope: str, key: str, message_id: str) -> bool:
        with mapped():
            return await _finish(self._db.keys, scope, key, message_id)

    async def release_key(self, scope: str, key: str, message_id: str) -> bool:
        with mapped():
            return await _release(self._db.keys, scope, key, message_id)
