"""The distributed store: one MongoDB collection, through PyMongo's async API.

One document per message, ``_id`` = message id, with ``queue``, ``status``, ``request``,
``result``, ``error``, ``created_at``/``updated_at`` (BSON dates: UTC, millisecond
precision), ``attempts``, ``owner``, ``lease_until``, ``published`` and ``request_id``,
``not_before`` (a scheduled retry), ``deliveries`` (claims since the last retry/redrive),
``version``, ``progress`` and ``history`` (``shared.adapters.history``),
``cancel_requested`` (absent until a user cancels a running message). Only
plain single-document operations are used (no transactions, no change streams), so it behaves the
same on any MongoDB 7/8 deployment. Every transition is one conditional update, which is what
makes claims atomic: ``find_one_and_update`` matching ``PENDING`` or ``INPROGRESS`` with an
expired lease. A status write is an update pipeline (:func:`_status_write`), so that its
history entry can carry the document's own ``attempts`` in the same atomic write. Lease
times come from the caller's clock, as in the SQLite store (leases must be much longer than
the clock skew between consumer machines).

JSON values (``request``, ``result``, ``error``) are stored as native BSON when that is
exact, so they stay queryable, and otherwise as JSON text in a ``<field>_json`` sibling (the
native field is then null). BSON cannot hold integers beyond int64, strings with lone
surrogates or keys containing NUL, and MongoDB restricts keys that are empty, start with
``$`` or contain ``.`` (update operators and queries treat them specially) and nesting depth.
A message the gateway accepted is therefore never refused or altered: reading gives back
exactly the value written, in either form (the text form is ASCII-escaped ``json``).

Every driver error becomes :class:`StoreUnavailable`. Unless the URL sets them, short
server-selection and connect timeouts make an outage a quick 503 and a socket timeout bounds
a hung server (not ``timeoutMS``: under it the driver retries until the budget is spent).
Durability is the URL's write concern (e.g. ``w=majority&journal=true``).

Retention: :meth:`finish` stores ``expires_at`` (a BSON date, or null: kept) and a TTL index
on it (``expireAfterSeconds=0``) lets MongoDB delete finished records by itself (its TTL
monitor runs about every 60 s, so a record may outlive its date by that much);
:meth:`delete_expired` is therefore a no-op here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bson.errors import BSONError
from bson.int64 import Int64
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    BulkWriteError,
    DocumentTooLarge,
    DuplicateKeyError,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteError,
)

from shared.adapters.history import mongo_entry, mongo_history, mongo_progress
from shared.adapters.mongo import cancel_flags as mongo_cancel
from shared.adapters.mongo import keys as mongo_keys
from shared.adapters.mongo import ticks as mongo_schedules
from shared.adapters.mongo.reach import unreachable
from shared.adapters.record_fields import counts_from_groups, final_statuses, finished_from_groups
from shared.domain.idempotency import IdempotencyEntry
from shared.domain.message import (
    HISTORY_LIMIT,
    ErrorInfo,
    Json,
    MessageRecord,
    Progress,
    Status,
    utcnow,
)
from shared.ports import (
    Cancel,
    Claim,
    ClaimOutcome,
    ListCursor,
    MessageRef,
    Outcome,
    QueueCounts,
    RecordExists,
    ScheduleState,
    StoreRejected,
    StoreUnavailable,
)

Doc = dict[str, Any]

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
]
#: The TTL index behind ``result_ttl_seconds`` (a null ``expires_at`` never expires).
TTL_INDEX = IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl")
PAGE = 500
MAX_NATIVE_DEPTH = 32  # MongoDB refuses documents nested deeper than 100 levels
CLAIM_TRIES = 3
INT64 = 1 << 63
PENDING, INPROGRESS = Status.PENDING.value, Status.INPROGRESS.value


def client_options(url: str) -> dict[str, Any]:
    """The :data:`DEFAULT_OPTIONS` the URL leaves unset."""
    given = {key.lower() for key, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    if "timeoutms" in given:  # client-side operation timeouts replace socketTimeoutMS
        given.add("sockettimeoutms")
    return {key: value for key, value in DEFAULT_OPTIONS.items() if key.lower() not in given}


#: Server codes for "the document would exceed the BSON size limit".
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """Turn driver and BSON errors into StoreUnavailable (StoreRejected: too large)."""
    try:
        yield
    except DocumentTooLarge as exc:
        raise StoreRejected(f"mongodb: {exc}") from exc
    except WriteError as exc:
        if exc.code in TOO_LARGE_CODES:
            raise StoreRejected(f"mongodb: {exc}") from exc
        raise StoreUnavailable(f"mongodb: {exc}") from exc
    except (PyMongoError, BSONError) as exc:
        raise StoreUnavailable(f"mongodb: {exc}") from exc


def _utf8(text: str) -> bool:
    """False for strings with lone surrogates (``json`` reads ``"\\ud800"`` as one)."""
    try:
        return text.isascii() or bool(text.encode("utf-8"))
    except UnicodeEncodeError:
        return False


def _safe_key(key: str) -> bool:
    return key != "" and key[0] != "$" and "." not in key and "\x00" not in key and _utf8(key)


def _native(value: Json, depth: int = 0) -> bool:
    """True if ``value`` survives a BSON round trip exactly, on any MongoDB."""
    if value is None or isinstance(value, bool | float):
        return True
    if isinstance(value, int):
        return -INT64 <= value < INT64
    if isinstance(value, str):
        return _utf8(value)
    if depth >= MAX_NATIVE_DEPTH:
        return False
    if isinstance(value, list):
        return all(_native(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(_safe_key(k) and _native(v, depth + 1) for k, v in value.items())
    return False


def _put(name: str, value: Json) -> Doc:
    """The fields storing ``value``: native ``name``, or JSON text in ``name_json``."""
    if _native(value):
        return {name: value, f"{name}_json": None}
    return {name: None, f"{name}_json": json.dumps(value, separators=(",", ":"))}


def _plain(value: Any) -> Json:
    """A decoded BSON value as ``json.loads`` gives it (``Int64`` becomes ``int``)."""
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _take(doc: Mapping[str, Any], name: str) -> Json:
    text = doc.get(f"{name}_json")
    return json.loads(text) if text is not None else _plain(doc.get(name))


def _error(error: ErrorInfo | None) -> Doc:
    return _put("error", error.to_json() if error else None)


def _record(doc: Mapping[str, Any]) -> MessageRecord:
    return MessageRecord(
        id=doc["_id"],
        queue=doc["queue"],
        status=Status(doc["status"]),
        request=_take(doc, "request"),
        result=_take(doc, "result"),
        error=ErrorInfo.from_json(_take(doc, "error")),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        attempts=int(doc.get("attempts", 0)),
        request_id=doc.get("request_id"),
        not_before=doc.get("not_before"),
        version=int(doc.get("version") or 0),
        progress=mongo_progress(doc.get("progress")),
        history=mongo_history(doc.get("history")),
        cancel_requested=bool(doc.get("cancel_requested", False)),
    )


def _new_doc(record: MessageRecord) -> Doc:
    """The document :meth:`MongoStore.insert` writes for a new record."""
    doc: Doc = {"_id": record.id, "queue": record.queue, "status": record.status.value}
    doc |= _put("request", record.request) | _put("result", record.result)
    doc |= _error(record.error)
    doc |= {"created_at": record.created_at, "updated_at": record.updated_at}
    doc |= {"attempts": record.attempts, "owner": None, "lease_until": None, "published": False}
    doc |= {"request_id": record.request_id, "not_before": record.not_before}
    doc |= {"version": record.version, "progress": None}
    doc["history"] = [mongo_entry(t) for t in record.history]
    return doc


def _plus_one(field: str) -> Doc:
    """Pipeline expression: the document's ``field`` (missing: 0) plus one."""
    return {"$add": [{"$ifNull": [f"${field}", 0]}, 1]}


def _status_write(
    fields: Doc, consumer: str | None, *, attempt: Any = "$attempts", plus: Sequence[str] = ()
) -> list[Doc]:
    """The update pipeline of a status write: set ``fields`` (taken literally), add one to
    ``version`` and to each of ``plus``, and append the transition to ``fields["status"]``,
    at ``fields["updated_at"]``, with the attempt expression ``attempt`` (evaluated on the
    document before the write) to ``history``, keeping the last ``HISTORY_LIMIT``."""
    entry = {
        "at": {"$literal": fields["updated_at"]},
        "status": {"$literal": fields["status"]},
        "attempt": {"$ifNull": [attempt, 0]},
        "consumer": {"$literal": consumer},
    }
    history = {"$concatArrays": [{"$ifNull": ["$history", []]}, [entry]]}
    stage: Doc = {key: {"$literal": value} for key, value in fields.items()}
    stage |= {name: _plus_one(name) for name in ("version", *plus)}
    stage["history"] = {"$slice": [history, -HISTORY_LIMIT]}
    return [{"$set": stage}]


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


def _held(queue: str, message_id: str, owner: str) -> Doc:
    return {"_id": message_id, "queue": queue, "owner": owner, "status": INPROGRESS}


def _released() -> Doc:
    return {"status": PENDING, "owner": None, "lease_until": None, "updated_at": utcnow()}


class MongoStore:
    """:class:`shared.ports.Store` on one MongoDB collection."""

    def __init__(self, url: str, database: str, collection: str, *, page: int = PAGE) -> None:
        self._url = url
        self._names = (database, collection)
        #: Any number of gateways and consumers use one database.
        self.shared_between_processes = True
        self._page = page
        self._client: AsyncMongoClient[Doc] | None = None

    @property
    def _col(self) -> AsyncCollection[Doc]:
        if self._client is None:
            raise StoreUnavailable("store is not open")
        database, collection = self._names
        return self._client[database][collection]

    async def open(self) -> None:
        """Connect and create the indexes. Raises StoreUnavailable; when no server answers,
        its message names each server's host, port and cause (not the topology dump)."""
        try:
            with _mapped():
                options = client_options(self._url)
                self._client = client = AsyncMongoClient(
                    self._url, tz_aware=True, tzinfo=UTC, **options
                )
                try:
                    await self._col.create_indexes(
                        [IndexModel([(k, ASCENDING) for k in keys]) for keys in INDEXES]
                        + [TTL_INDEX]
                    )
                except ServerSelectionTimeoutError as exc:
                    reason = unreachable(client.topology_description)
                    raise StoreUnavailable(f"mongodb: {reason}") from exc
                await mongo_keys.create_indexes(self._keys)
        except StoreUnavailable:
            await self.close()
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(PyMongoError):
                await client.close()

    async def ping(self) -> None:
        with _mapped():
            await self._col.database.client.admin.command("ping")

    async def insert(self, record: MessageRecord) -> None:
        doc = _new_doc(record)
        try:
            with _mapped():
                await self._col.insert_one(doc)
        except StoreUnavailable as exc:
            if isinstance(exc.__cause__, DuplicateKeyError):  # _id is unique: one insert wins
                raise RecordExists(f"message {record.id} exists") from None
            raise

    async def insert_many(self, records: Sequence[MessageRecord]) -> list[str]:
        if not records:
            return []
        try:
            with _mapped():
                await self._col.insert_many([_new_doc(r) for r in records], ordered=False)
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

    @property
    def _schedules(self) -> AsyncCollection[Doc]:
        return self._col.database[self._names[1] + mongo_schedules.SUFFIX]

    async def schedule_states(self) -> list[ScheduleState]:
        with _mapped():
            return await mongo_schedules.states(self._schedules)

    async def anchor_schedule(self, state: ScheduleState) -> bool:
        with _mapped():
            return await mongo_schedules.anchor(self._schedules, state)

    async def advance_schedule(
        self, queue: str, name: str, fingerprint: str, tick: datetime, message_id: str
    ) -> bool:
        with _mapped():
            return await mongo_schedules.advance(
                self._schedules, queue, name, fingerprint, tick, message_id
            )

    async def forget_schedules(self, queue: str, names: Sequence[str]) -> int:
        with _mapped():
            return await mongo_schedules.forget(self._schedules, queue, names)

    @property
    def _keys(self) -> AsyncCollection[Doc]:
        return self._col.database[self._names[1] + mongo_keys.SUFFIX]

    async def reserve_key(self, entry: IdempotencyEntry) -> IdempotencyEntry | None:
        with _mapped():
            return await mongo_keys.reserve(self._keys, entry)

    async def finish_key(self, scope: str, key: str, message_id: str) -> bool:
        with _mapped():
            return await mongo_keys.finish(self._keys, scope, key, message_id)

    async def release_key(self, scope: str, key: str, message_id: str) -> bool:
        with _mapped():
            return await mongo_keys.release(self._keys, scope, key, message_id)

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        with _mapped():
            doc = await self._col.find_one({"_id": message_id, "queue": queue})
        return _record(doc) if doc is not None else None

    async def delete(self, queue: str, message_id: str) -> bool:
        with _mapped():
            result = await self._col.delete_one({"_id": message_id, "queue": queue})
        return result.deleted_count > 0

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        key: Doc = {"_id": message_id, "queue": queue}
        record: MessageRecord | None = None
        for _ in range(CLAIM_TRIES):
            now = utcnow()
            due = [{"not_before": None}, {"not_before": {"$lte": now}}]  # not a waiting retry
            claimable = [
                {"status": PENDING, "$or": due},
                {"status": INPROGRESS, "lease_until": {"$lt": now}},
            ]
            fields = {"status": INPROGRESS, "owner": owner, "lease_until": lease_until}
            fields |= {"updated_at": now, "published": True, "not_before": None, "progress": None}
            update = _status_write(
                fields, owner, attempt=_plus_one("attempts"), plus=("attempts", "deliveries")
            )
            with _mapped():
                doc = await self._col.find_one_and_update(
                    {**key, "$or": claimable}, update, return_document=ReturnDocument.AFTER
                )
                if doc is not None:
                    return Claim(ClaimOutcome.CLAIMED, _record(doc))
                doc = await self._col.find_one(key)
            if doc is None:
                return Claim(ClaimOutcome.GONE)
            record = _record(doc)
            if record.status.final:
                return Claim(ClaimOutcome.FINAL, record)
            lease, not_before = doc.get("lease_until"), doc.get("not_before")
            if record.status is Status.INPROGRESS and (lease is None or lease >= utcnow()):
                return Claim(ClaimOutcome.BUSY, record)
            if record.status is Status.PENDING and not_before is not None and not_before > now:
                return Claim(ClaimOutcome.DEFERRED, record, not_before)
            # Released, or its lease ran out, between the two reads: claimable again.
        return Claim(ClaimOutcome.BUSY, record)

    async def renew(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[MessageRef]:
        if not refs:
            return []
        with _mapped():
            return await mongo_cancel.renew(self._col, refs, owner, lease_until)

    async def cancel(self, queue: str, message_id: str, expires_at: datetime | None) -> Cancel:
        with _mapped():
            return await mongo_cancel.cancel(
                self._col, _record, _status_write, queue, message_id, expires_at
            )

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        fields: Doc = {
            "status": outcome.status.value,
            **_put("result", outcome.result),
            **_error(outcome.error),
            "updated_at": utcnow(),
            "expires_at": outcome.expires_at,
            "owner": None,
            "lease_until": None,
        }
        with _mapped():
            result = await self._col.update_one(
                _held(queue, message_id, owner), _status_write(fields, owner)
            )
        return result.matched_count > 0

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        with _mapped():
            result = await self._col.update_one(
                _held(queue, message_id, owner), _status_write(_released(), owner)
            )
        return result.matched_count > 0

    async def release_all_inprogress(self) -> int:
        with _mapped():
            result = await self._col.update_many(
                {"status": INPROGRESS}, _status_write(_released(), None)
            )
        return result.modified_count

    async def record_progress(
        self, queue: str, message_id: str, owner: str, progress: Progress
    ) -> bool:
        report = {"fraction": progress.fraction, "note": progress.note, "at": progress.at}
        with _mapped():
            result = await self._col.update_one(
                _held(queue, message_id, owner),
                {"$set": {"progress": report}, "$inc": {"version": 1}},
            )
        return result.matched_count > 0

    async def mark_published(self, refs: Sequence[MessageRef]) -> None:
        if refs:
            with _mapped():
                await self._col.update_many(
                    {"_id": {"$in": [r.id for r in refs]}}, {"$set": {"published": True}}
                )

    async def _scan(self, where: Doc) -> AsyncIterator[MessageRef]:
        """Matching records oldest first, paged by (created_at, _id)."""
        query = where
        while True:
            with _mapped():
                cursor = self._col.find(query, {"queue": 1, "created_at": 1})
                cursor = cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)])
                docs = await cursor.limit(self._page).to_list(None)
            for doc in docs:
                yield MessageRef(doc["queue"], doc["_id"])
            if len(docs) < self._page:
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
        with _mapped():
            doc = await self._col.find_one(
                {"status": PENDING, "not_before": {"$ne": None}},
                {"not_before": 1},
                sort=[("not_before", ASCENDING)],
            )
        return doc["not_before"] if doc is not None else None

    async def schedule_retry(
        self, queue: str, message_id: str, owner: str, error: ErrorInfo, not_before: datetime
    ) -> bool:
        fields: Doc = {**_released(), **_put("result", None), **_error(error)}
        fields |= {"not_before": not_before, "deliveries": 0, "published": False}
        with _mapped():
            result = await self._col.update_one(
                _held(queue, message_id, owner), _status_write(fields, owner)
            )
        return result.matched_count > 0

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        fields: Doc = {**_released(), **_put("result", None), **_error(None)}
        fields |= {"attempts": 0, "deliveries": 0, "not_before": None, "published": False}
        fields |= {"expires_at": None, "cancel_requested": False}  # PENDING never expires
        fields["progress"] = None
        with _mapped():
            doc = await self._col.find_one_and_update(
                {"_id": message_id, "queue": queue, "status": Status.ERROR.value},
                _status_write(fields, None, attempt=0),
                return_document=ReturnDocument.AFTER,
            )
        return _record(doc) if doc is not None else None

    async def fail_abandoned(
        self, expired_before: datetime, min_attempts: int, error: ErrorInfo
    ) -> list[MessageRef]:
        # MongoDB has no multi-document RETURNING: find candidates, then fail each under the
        # same condition, so one claimed or finished meanwhile is left alone.
        cond: Doc = {"status": INPROGRESS, "lease_until": {"$lt": expired_before}}
        cond["cancel_requested"] = {"$ne": True}  # those end CANCELLED (Recovery docstring)
        # Deliveries since the last retry/redrive; records from before that field: attempts.
        cond["$or"] = [
            {"deliveries": {"$gte": min_attempts}},
            {"deliveries": {"$exists": False}, "attempts": {"$gte": min_attempts}},
        ]
        fields: Doc = {"status": Status.ERROR.value, **_error(error), "owner": None}
        return await self._update_each(
            cond, _status_write({**fields, "lease_until": None, "updated_at": utcnow()}, None)
        )

    async def _update_each(self, cond: Doc, fields: Doc | list[Doc]) -> list[MessageRef]:
        """Set ``fields`` on each record matching ``cond``, re-checking ``cond`` per record
        (no multi-document RETURNING); the refs of those updated."""
        done: list[MessageRef] = []
        while True:
            with _mapped():
                docs = await self._col.find(cond, {"queue": 1}).limit(self._page).to_list(None)
                for doc in docs:
                    result = await self._col.update_one({**cond, "_id": doc["_id"]}, fields)
                    if result.matched_count:
                        done.append(MessageRef(doc["queue"], doc["_id"]))
            if len(docs) < self._page:
                return done

    async def release_expired(self, expired_before: datetime) -> list[MessageRef]:
        cond: Doc = {"status": INPROGRESS, "lease_until": {"$lt": expired_before}}
        return await self._update_each(
            cond, _status_write({**_released(), "published": False, "updated_at": utcnow()}, None)
        )

    async def take_overdue(self, due_before: datetime) -> list[MessageRef]:
        cond: Doc = {"status": PENDING, "not_before": {"$ne": None, "$lt": due_before}}
        return await self._update_each(cond, {"$set": {"not_before": None, "published": False}})

    async def list_records(
        self, queue: str, status: Status | None, limit: int, before: ListCursor | None
    ) -> list[MessageRecord]:
        cond: Doc = {"queue": queue}
        if status is not None:
            cond["status"] = status.value
        if before is not None:
            cond["$or"] = [
                {"created_at": {"$lt": before.created_at}},
                {"created_at": before.created_at, "_id": {"$lt": before.id}},
            ]
        with _mapped():
            cursor = self._col.find(cond).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            docs = await cursor.limit(limit).to_list(None)
        return [_record(doc) for doc in docs]

    async def delete_expired(self, now: datetime) -> int:
        return 0  # the TTL index does it

    async def counts(self) -> dict[str, QueueCounts]:
        group = {
            "_id": {"queue": "$queue", "status": "$status"},
            "count": {"$sum": 1},
            "oldest": {"$min": "$created_at"},
        }
        with _mapped():
            cursor = await self._col.aggregate([{"$group": group}])
            docs = await cursor.to_list(None)
        return counts_from_groups(
            (d["_id"]["queue"], d["_id"]["status"], d["count"], d["oldest"]) for d in docs
        )

    async def finished_since(self, since: datetime) -> dict[str, dict[Status, int]]:
        match = {"status": {"$in": final_statuses()}, "updated_at": {"$gte": since}}
        group = {"_id": {"queue": "$queue", "status": "$status"}, "count": {"$sum": 1}}
        with _mapped():
            cursor = await self._col.aggregate([{"$match": match}, {"$group": group}])
            docs = await cursor.to_list(None)
        return finished_from_groups(
            (d["_id"]["queue"], d["_id"]["status"], d["count"]) for d in docs
        )
