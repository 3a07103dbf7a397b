"""The distributed store: one MongoDB collection, through PyMongo's async API.

This module is the store's ``shared.ports.StoreLifecycle`` (connect, indexes, close, ping)
and :class:`MongoStore`, composed of the parts implementing the other ports: ``records``
(Records), ``claims`` (Claims, ProgressReports), ``sweeps`` (Recovery), ``keys`` (Keys),
``ticks`` (ScheduleStates), ``workers`` (Workers), ``audit`` (Audit) and ``search``
(Search), ``pauses`` (QueuePauses) and ``rollups`` (Rollups). They share one
``connection.MongoConnection``; ``documents`` is their document codec.

One document per message, ``_id`` = message id, with ``queue``, ``status``, ``request``,
``result``, ``error``, ``created_at``/``updated_at`` (BSON dates: UTC, millisecond
precision), ``attempts``, ``owner``, ``lease_until``, ``published`` and ``request_id``,
``not_before`` (a scheduled retry), ``deliveries`` (claims since the last retry/redrive),
``version``, ``progress`` and ``history`` (``shared.adapters.history``),
``cancel_requested`` (absent until a user cancels a running message). The store's identity
(``StoreLifecycle.identity``) is the one document ``{_id: "store", id}`` of
``<collection>_identity``, created by the first open. Only
plain single-document operations are used (no transactions, no change streams), so it behaves the
same on any MongoDB 7/8 deployment. Every transition is one conditional update, which is what
makes claims atomic: ``find_one_and_update`` matching ``PENDING`` or ``INPROGRESS`` with an
expired lease. A status write is an update pipeline (``documents.status_write``), so that its
history entry can carry the document's own ``attempts`` in the same atomic write. Lease
times come from the caller's clock, as in the SQLite store (leases must be much longer than
the clock skew between consumer machines).

JSON values (``request``, ``result``, ``error``) are stored as native BSON when that is
exact, else as JSON text (``documents``): a message the gateway accepted is never refused
or altered.

Every driver error becomes :class:`StoreUnavailable`. Unless the URL sets them, short
server-selection and connect timeouts make an outage a quick 503 and a socket timeout bounds
a hung server (not ``timeoutMS``: under it the driver retries until the budget is spent).
Durability is the URL's write concern (e.g. ``w=majority&journal=true``).

Retention: ``finish`` stores ``expires_at`` (a BSON date, or null: kept) and a TTL index
on it (``expireAfterSeconds=0``) lets MongoDB delete finished records by itself (its TTL
monitor runs about every 60 s, so a record may outlive its date by that much);
``delete_expired`` is therefore a no-op here.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError, ServerSelectionTimeoutError

from shared.adapters.mongo import audit, keys, pauses, rollups, ticks, workers
from shared.adapters.mongo.claims import MongoClaims
from shared.adapters.mongo.connection import Doc, MongoConnection, mapped
from shared.adapters.mongo.reach import unreachable
from shared.adapters.mongo.records import MongoRecords
from shared.adapters.mongo.search import MongoSearch
from shared.adapters.mongo.sweeps import MongoSweeps
from shared.ports import StoreUnavailable

#: Client options used unless the URL sets them (keyword options would override the URL).
DEFAULT_OPTIONS = dict(serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, socketTimeoutMS=10000)
INDEXES: list[list[str]] = [
    ["queue", "status", "created_at"],  # per-queue listing (as the SQLite schema has)
    ["status", "published", "created_at", "_id"],  # unpublished(): the recovery sweep
    ["status", "created_at", "_id"],  # pending(): start-up recovery
    ["status", "updated_at"],  # finished_since(): completions per minute
    ["status", "lease_until"],  # fail_abandoned()
    ["queue", "created_at", "_id"],  # list_records() without a status
    ["status", "not_before"],  # next_due(), take_overdue(): delayed pushes and retries
    ["queue", "status", "published", "created_at", "_id"],  # count_queued(), idle_queued()
]
#: The TTL index behind ``result_ttl_seconds`` (a null ``expires_at`` never expires).
TTL_INDEX = IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl")
PAGE = 500
#: The ``_id`` of the one document of the identity collection (``<collection>_identity``).
IDENTITY_ID = "store"


def client_options(url: str) -> dict[str, Any]:
    """The :data:`DEFAULT_OPTIONS` the URL leaves unset."""
    given = {key.lower() for key, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    if "timeoutms" in given:  # client-side operation timeouts replace socketTimeoutMS
        given.add("sockettimeoutms")
    return {key: value for key, value in DEFAULT_OPTIONS.items() if key.lower() not in given}


async def _create_identity(col: AsyncCollection[Doc]) -> None:
    """Create the identity document unless it exists (of concurrent first opens, one wins)."""
    with contextlib.suppress(DuplicateKeyError):
        await col.update_one(
            {"_id": IDENTITY_ID}, {"$setOnInsert": {"id": uuid.uuid4().hex}}, upsert=True
        )


class MongoStore(
    MongoRecords,
    MongoClaims,
    MongoSweeps,
    keys.MongoKeys,
    ticks.MongoTicks,
    workers.MongoWorkers,
    audit.MongoAudit,
    pauses.MongoPauses,
    MongoSearch,
    rollups.MongoRollups,
):
    """:class:`shared.ports.Store` on one MongoDB collection: the lifecycle here, each other
    port in its part (the parts use only ``self._db``)."""

    def __init__(self, url: str, database: str, collection: str, *, page: int = PAGE) -> None:
        self._url = url
        #: Any number of gateways and consumers use one database.
        self.shared_between_processes = True
        self._db = MongoConnection(database, collection, page)

    async def open(self) -> None:
        """Connect and create the indexes. Raises StoreUnavailable; when no server answers,
        its message names each server's host, port and cause (not the topology dump)."""
        try:
            with mapped():
                options = client_options(self._url)
                client: AsyncMongoClient[Doc] = AsyncMongoClient(
                    self._url, tz_aware=True, tzinfo=UTC, **options
                )
                self._db.attach(client)
                try:
                    await self._db.messages.create_indexes(
                        [IndexModel([(k, ASCENDING) for k in fields]) for fields in INDEXES]
                        + [TTL_INDEX]
                    )
                except ServerSelectionTimeoutError as exc:
                    reason = unreachable(client.topology_description)
                    raise StoreUnavailable(f"mongodb: {reason}") from exc
                await keys.create_indexes(self._db.keys)
                await audit.create_indexes(self._db.audit)
                await rollups.create_indexes(rollups.collection(self._db))
                await _create_identity(self._db.identity)
        except StoreUnavailable:
            await self.close()
            raise

    async def close(self) -> None:
        client = self._db.detach()
        if client is not None:
            with contextlib.suppress(PyMongoError):
                await client.close()

    async def identity(self) -> str:
        with mapped():
            doc = await self._db.identity.find_one({"_id": IDENTITY_ID})
        if doc is None:  # only if someone deleted it under a running store
            raise StoreUnavailable("mongodb: the store identity document is missing")
        return str(doc["id"])

    async def ping(self) -> None:
        with mapped():
            await self._db.messages.database.client.admin.command("ping")
