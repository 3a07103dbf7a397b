"""What the MongoDB store's parts share: the client, its collections, the error mapping.

No port of its own: every part of the store (``records``, ``claims``, ``sweeps``, ``keys``,
``ticks``, ``audit``) reaches the database through the store's one :class:`MongoConnection`, and
``collection.MongoStore`` (the lifecycle) attaches the client at open and detaches it at
close. Each part wraps its driver calls in :func:`mapped`, so every driver error becomes
:class:`StoreUnavailable` (:class:`StoreRejected` when a document is too large).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from bson.errors import BSONError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DocumentTooLarge, PyMongoError, WriteError

from shared.ports import StoreRejected, StoreUnavailable

Doc = dict[str, Any]
#: Server codes for "the document would exceed the BSON size limit".
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})
#: The idempotency keys' collection is ``<messages collection><KEYS_SUFFIX>`` (``keys``).
KEYS_SUFFIX = "_idempotency"
#: The schedule states' collection is ``<messages collection><SCHEDULES_SUFFIX>`` (``ticks``).
SCHEDULES_SUFFIX = "_schedules"
#: The store identity's collection is ``<messages collection><IDENTITY_SUFFIX>`` (one document).
IDENTITY_SUFFIX = "_identity"
#: The audit log's collection is ``<messages collection><AUDIT_SUFFIX>`` (``audit``).
AUDIT_SUFFIX = "_audit"


@contextlib.contextmanager
def mapped() -> Iterator[None]:
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


class MongoConnection:
    """The client and the store's collections while open; ``page``: documents a scan reads
    at a time. A collection asked for while closed raises StoreUnavailable."""

    def __init__(self, database: str, collection: str, page: int) -> None:
        self.names = (database, collection)
        self.page = page
        self.client: AsyncMongoClient[Doc] | None = None
        self._messages: AsyncCollection[Doc] | None = None
        self._keys: AsyncCollection[Doc] | None = None
        self._schedules: AsyncCollection[Doc] | None = None
        self._identity: AsyncCollection[Doc] | None = None
        self._audit: AsyncCollection[Doc] | None = None

    def attach(self, client: AsyncMongoClient[Doc]) -> None:
        """Use ``client`` (created, maybe not yet connected) from now on."""
        database, collection = self.names
        db = client[database]
        self.client = client
        self._messages = db[collection]
        self._keys = db[collection + KEYS_SUFFIX]
        self._schedules = db[collection + SCHEDULES_SUFFIX]
        self._identity = db[collection + IDENTITY_SUFFIX]
        self._audit = db[collection + AUDIT_SUFFIX]

    def detach(self) -> AsyncMongoClient[Doc] | None:
        """Forget the client (the caller closes it); the one attached, if any."""
        client, self.client = self.client, None
        self._messages = self._keys = self._schedules = self._identity = self._audit = None
        return client

    @property
    def messages(self) -> AsyncCollection[Doc]:
        """One document per message (``documents``)."""
        if self._messages is None:
            raise StoreUnavailable("store is not open")
        return self._messages

    @property
    def keys(self) -> AsyncCollection[Doc]:
        """One document per idempotency key (``keys``)."""
        if self._keys is None:
            raise StoreUnavailable("store is not open")
        return self._keys

    @property
    def schedules(self) -> AsyncCollection[Doc]:
        """One document per cron schedule (``ticks``)."""
        if self._schedules is None:
            raise StoreUnavailable("store is not open")
        return self._schedules

    @property
    def identity(self) -> AsyncCollection[Doc]:
        """The store's identity: one document (``collection``)."""
        if self._identity is None:
            raise StoreUnavailable("store is not open")
        return self._identity

    @property
    def audit(self) -> AsyncCollection[Doc]:
        """One document per operator action (``audit``)."""
        if self._audit is None:
            raise StoreUnavailable("store is not open")
        return self._audit
