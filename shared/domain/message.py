"""Message records: the typed shape every store keeps and every API answer shows.

A record has exactly the original service's fields (``id, queue, status, request, result,
error``) plus ``created_at``, ``updated_at`` (ISO-8601 UTC on the wire) and ``attempts``
(how many handler runs have started) and ``request_id`` (the ``X-Request-Id`` of the push,
or None), and ``cancel_requested`` (a user asked a running message to stop).

Added for live views: ``version`` (a counter the store bumps on every status or progress
write: the id of the record's server-sent events), ``progress`` (the handler's last
``ctx.progress`` report) and ``history`` (the last :data:`HISTORY_LIMIT` status transitions,
oldest first, each appended by the store in the same write as the status).

``delivery`` (:class:`DeliveryState`) is computed from ``status`` and ``not_before``, not
stored: a ``PENDING`` record is ``delayed`` while its ``not_before`` is in the future, else
``queued``; any other status has no delivery state.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias, overload

import orjson

from shared.domain.ids import uuid4_text

#: A JSON value as :func:`json.loads` produces it (dict, list, str, int, float, bool, None,
#: nested): an alias of ``Any``, public as ``conveyor.Json``.
Json: TypeAlias = Any

#: How many status transitions a record keeps in ``history`` (the oldest are dropped).
HISTORY_LIMIT = 50


class Status(StrEnum):
    """The four states of the original service, and ``CANCELLED`` (stopped by a user)."""

    PENDING = "PENDING"
    INPROGRESS = "INPROGRESS"
    COMPLETE = "COMPLETE"
    ERROR = "ERROR"
    #: Cancelled by a user (``POST /{queue}/{id}/cancel``): final, never run (again).
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        """True for ``COMPLETE``, ``ERROR`` and ``CANCELLED``: nothing runs the message again."""
        return self in (Status.COMPLETE, Status.ERROR, Status.CANCELLED)


class DeliveryState(StrEnum):
    """Where a ``PENDING`` message's delivery is (shown as the record's ``delivery``).

    Computed (:attr:`MessageRecord.delivery`): ``status`` and ``not_before`` decide it. A
    parked record is stored as a ``not_before`` of :data:`PARKED_UNTIL` (a paused queue's
    consumer parks it instead of running it; resuming the queue unparks it).
    """

    #: Handed (or about to be handed) to the work queue; a consumer should claim it soon.
    #: The recovery sweep re-delivers one that stays unclaimed too long while the broker
    #: holds fewer ready messages than the store holds queued records (``consumer.recovery``).
    QUEUED = "queued"
    #: Waiting for its time: a delayed push's or a retry's ``not_before`` is in the future.
    DELAYED = "delayed"
    #: Held back while its queue is paused: no delivery until the queue is resumed.
    PARKED = "parked"


#: The ``not_before`` that marks a parked record: never due, so the claim refuses it and no
#: sweep or timer delivers it (``shared.ports.QueuePauses``).
PARKED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, in whole milliseconds.

    Every timestamp in Conveyor is one of these: milliseconds are what the API shows and what
    MongoDB keeps, so every store orders and pages by exactly the values clients see.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


@functools.lru_cache(maxsize=4096)
def iso(ts: datetime) -> str:
    """Render a timestamp as UTC ISO-8601 with a ``Z`` suffix and millisecond precision
    (``2026-12-06T07:00:00.123Z``); a naive one is taken as local time, as ``astimezone``
    does. Cached: one record's times are shown several times (its creation is also its first
    update and its first transition), and formatting costs more than a look-up."""
    if ts.tzinfo is not UTC:  # every Conveyor timestamp is UTC already (utcnow)
        ts = ts.astimezone(UTC)
    return ts.isoformat(timespec="milliseconds")[:-6] + "Z"


def new_message_id() -> str:
    """A fresh message id (UUID4, canonical text form; see ``shared.domain.ids``)."""
    return uuid4_text()


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a message failed: the exception type and its message, and, for an exception a
    handler raised, the end of its formatted traceback (``shared.domain.tracebacks``: at most
    16 KiB). Only callers who may redrive the queue's messages are shown the traceback
    (``gateway.auth.record_view``)."""

    type: str
    message: str
    traceback: str | None = None

    def to_json(self) -> dict[str, str]:
        """The stored form: ``{"type", "message"}``, and ``"traceback"`` when there is one."""
        if self.traceback is None:
            return {"type": self.type, "message": self.message}
        return {"type": self.type, "message": self.message, "traceback": self.traceback}

    def to_public(self, *, traceback: bool = False) -> dict[str, str]:
        """The wire form: ``{"type", "message"}``, plus ``"traceback"`` (when there is one)
        only if ``traceback``."""
        if traceback:
            return self.to_json()
        return {"type": self.type, "message": self.message}

    @classmethod
    def from_json(cls, data: Json) -> ErrorInfo | None:
        """Parse the stored (or wire) form back; ``None`` stays ``None``."""
        if data is None:
            return None
        trace = data.get("traceback")
        return cls(
            type=str(data.get("type", "")),
            message=str(data.get("message", "")),
            traceback=None if trace is None else str(trace),
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """A handler's progress report: a fraction of the work done (0 to 1), an optional short
    note, and when it was reported."""

    fraction: float
    note: str | None
    at: datetime

    def to_json(self) -> dict[str, Json]:
        """The wire form, ``{"fraction", "note", "at"}`` (``at`` as ISO-8601)."""
        return {"fraction": self.fraction, "note": self.note, "at": iso(self.at)}

    @classmethod
    def from_json(cls, data: Json) -> Progress | None:
        """Parse what a store kept (``at`` as ISO-8601 text); ``None`` stays ``None``."""
        if not data:
            return None
        at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00"))
        note = data.get("note")
        return cls(float(data["fraction"]), None if note is None else str(note), at)


@dataclass(frozen=True, slots=True)
class Transition:
    """One status change in a record's ``history``: when, to which status, during which
    attempt, and by which consumer (its lease owner, ``host:pid:…``; None when no consumer
    made it: a push, a redrive, the recovery sweep's decisions)."""

    at: datetime
    status: Status
    attempt: int
    consumer: str | None = None

    def to_json(self) -> dict[str, Json]:
        """The wire form, ``{"at", "status", "attempt", "consumer"}``."""
        return {
            "at": iso(self.at),
            "status": self.status.value,
            "attempt": self.attempt,
            "consumer": self.consumer,
        }

    @classmethod
    def from_json(cls, data: Json) -> Transition:
        """Parse the wire form (``at`` as ISO-8601 text) back."""
        at = datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00"))
        consumer = data.get("consumer")
        return cls(at, Status(data["status"]), int(data.get("attempt") or 0), consumer)


class History(Sequence[Transition]):
    """A record's status transitions, oldest first (at most :data:`HISTORY_LIMIT`).

    Built from :class:`Transition` values, or (:meth:`from_wire_text`) from the JSON text of
    the wire form, which SQLite keeps as is. Text is parsed only when an item is read, so a
    claimed record (the consumer never reads its history) costs no parsing, and
    :meth:`to_json` hands the text's entries to the API answer without turning each time
    into a ``datetime`` and back. Immutable; compares equal to any sequence of the same
    transitions.
    """

    __slots__ = ("_items", "_text")

    def __init__(self, transitions: Iterable[Transition] = ()) -> None:
        self._items: tuple[Transition, ...] | None = tuple(transitions)
        self._text: str | None = None

    @classmethod
    def from_wire_text(cls, text: str | None) -> History:
        """A history from the JSON text of its wire form (:meth:`to_json`); None is empty.
        The text is trusted (a store wrote it) and parsed on first access."""
        history = cls()
        if text:
            history._items, history._text = None, text
        return history

    def _parsed(self) -> tuple[Transition, ...]:
        items = self._items
        if items is None:  # a benign race between threads: both parse the same text
            items = self._items = tuple(
                Transition.from_json(e) for e in orjson.loads(self._text or "[]")
            )
        return items

    def to_json(self) -> list[Json]:
        """The wire form, a list of :meth:`Transition.to_json` documents."""
        if self._items is None:
            entries: list[Json] = orjson.loads(self._text or "[]")
            return entries
        return [t.to_json() for t in self._items]

    @overload
    def __getitem__(self, index: int) -> Transition: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Transition]: ...

    def __getitem__(self, index: int | slice) -> Transition | Sequence[Transition]:
        return self._parsed()[index]

    def __len__(self) -> int:
        return len(self._parsed())

    def __iter__(self) -> Iterator[Transition]:
        return iter(self._parsed())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History | tuple | list):
            return self._parsed() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._parsed())

    def __repr__(self) -> str:
        return f"History({list(self._parsed())!r})"


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message as stored. Immutable: transitions produce new records."""

    id: str
    queue: str
    status: Status
    request: Json
    result: Json
    error: ErrorInfo | None
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    request_id: str | None = None
    #: While PENDING: not to be started before this time (a delayed push or a retry).
    not_before: datetime | None = None
    #: Bumped by the store on every status or progress write (0: a record from before).
    version: int = 0
    progress: Progress | None = None
    #: The last status transitions, oldest first (at most :data:`HISTORY_LIMIT`).
    history: History = field(default_factory=History)
    #: While INPROGRESS: a user asked the run to stop (it ends CANCELLED).
    cancel_requested: bool = False
    #: While INPROGRESS: the consumer holding it (its worker id, ``host:pid:…``; see
    #: ``GET /workers``) and until when its lease runs (a lapsed one: the holder stalled or
    #: died, and the next claim takes it over). Left as the store has them otherwise.
    owner: str | None = None
    lease_until: datetime | None = None

    @classmethod
    def new(
        cls,
        queue: str,
        request: Json,
        message_id: str | None = None,
        request_id: str | None = None,
        not_before: datetime | None = None,
    ) -> MessageRecord:
        """A new ``PENDING`` record for ``request`` on ``queue`` (``request_id``: the HTTP
        request that pushed it, for tracing)."""
        now = utcnow()
        return cls(
            id=message_id or new_message_id(),
            queue=queue,
            status=Status.PENDING,
            request=request,
            result=None,
            error=None,
            created_at=now,
            updated_at=now,
            attempts=0,
            request_id=request_id,
            not_before=not_before,
            version=1,
            history=History((Transition(now, Status.PENDING, 0),)),
        )

    def delivery_at(self, now: datetime) -> DeliveryState | None:
        """The delivery state at ``now``: for a ``PENDING`` record, ``delayed`` while
        ``not_before`` is after ``now``, else ``queued``; None for any other status."""
        if self.status is not Status.PENDING:
            return None
        if self.not_before is not None and self.not_before > now:
            if self.not_before >= PARKED_UNTIL:
                return DeliveryState.PARKED
            return DeliveryState.DELAYED
        return DeliveryState.QUEUED

    @property
    def delivery(self) -> DeliveryState | None:
        """:meth:`delivery_at` now (computed from ``status`` and ``not_before``; the clock is
        read only for a ``PENDING`` record with a ``not_before``: every answer computes it)."""
        if self.status is not Status.PENDING:
            return None
        if self.not_before is None:
            return DeliveryState.QUEUED
        return self.delivery_at(utcnow())

    def to_public(self, *, tracebacks: bool = False) -> dict[str, Json]:
        """The JSON document the HTTP API returns; ``error.traceback`` only if
        ``tracebacks`` (the gateway decides per caller: ``gateway.auth.record_view``)."""
        return {
            "id": self.id,
            "queue": self.queue,
            "status": self.status.value,
            "request": self.request,
            "result": self.result,
            "error": self.error.to_public(traceback=tracebacks) if self.error else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "attempts": self.attempts,
            "request_id": self.request_id,
            "not_before": (
                iso(self.not_before) if self.not_before and self.not_before < PARKED_UNTIL else None
            ),
            "version": self.version,
            "progress": self.progress.to_json() if self.progress else None,
            "history": self.history.to_json(),
            "cancel_requested": self.cancel_requested,
            "delivery": delivery.value if (delivery := self.delivery) else None,
            "lease": self.lease_json(),
        }

    def lease_json(self) -> dict[str, Json] | None:
        """``{"owner", "until"}`` while INPROGRESS under a lease, else None."""
        if self.status is not Status.INPROGRESS or self.owner is None:
            return None
        until = iso(self.lease_until) if self.lease_until else None
        return {"owner": self.owner, "until": until}
