"""Message records: the typed shape every store keeps and every API answer shows.

A record has exactly the original service's fields (``id, queue, status, request, result,
error``) plus ``created_at``, ``updated_at`` (ISO-8601 UTC on the wire) and ``attempts``
(how many handler runs have started) and ``request_id`` (the ``X-Request-Id`` of the push,
or None), and ``cancel_requested`` (a user asked a running message to stop).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

#: A JSON document as :func:`json.loads` produces it.
Json: TypeAlias = Any


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


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, in whole milliseconds.

    Every timestamp in Conveyor is one of these: milliseconds are what the API shows and what
    MongoDB keeps, so every store orders and pages by exactly the values clients see.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def iso(ts: datetime) -> str:
    """Render a UTC timestamp as ISO-8601 with a ``Z`` suffix and millisecond precision."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_message_id() -> str:
    """A fresh message id (UUID4, canonical text form)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a message failed: the exception type and its message."""

    type: str
    message: str

    def to_json(self) -> dict[str, str]:
        """The wire form, ``{"type": ..., "message": ...}``."""
        return {"type": self.type, "message": self.message}

    @classmethod
    def from_json(cls, data: Json) -> ErrorInfo | None:
        """Parse the wire form back; ``None`` stays ``None``."""
        if data is None:
            return None
        return cls(type=str(data.get("type", "")), message=str(data.get("message", "")))


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
    #: While INPROGRESS: a user asked the run to stop (it ends CANCELLED).
    cancel_requested: bool = False

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
        )

    def to_public(self) -> dict[str, Json]:
        """The JSON document the HTTP API returns."""
        return {
            "id": self.id,
            "queue": self.queue,
            "status": self.status.value,
            "request": self.request,
            "result": self.result,
            "error": self.error.to_json() if self.error else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "attempts": self.attempts,
            "request_id": self.request_id,
            "not_before": iso(self.not_before) if self.not_before else None,
            "cancel_requested": self.cancel_requested,
        }
