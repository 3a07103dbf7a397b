"""The audit log's values: one :class:`AuditEntry` per operator action.

An operator action is a redrive, a bulk action, a pause or resume of a queue, and a cancel or
delete by a queue's admin; the entry says who (the token's subject), what, on which queue,
on what (a message id, or the bulk filter as an object) and on how many messages. Entries
are written once and never changed; they are deleted only when older than the retention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.domain.ids import uuid4_text
from shared.domain.message import Json, iso, utcnow

#: What an action was done to: a message id, a bulk filter (its fields), or nothing (a queue).
AuditTarget = str | dict[str, str | int | None] | None


class AuditAction(StrEnum):
    """The operator actions the audit log records."""

    REDRIVE = "redrive"
    CANCEL = "cancel"  #: by an admin of the queue (a writer's own cancel is not audited)
    DELETE = "delete"  #: by an admin of the queue
    BULK_CANCEL = "bulk_cancel"
    BULK_RETRY = "bulk_retry"
    BULK_DELETE = "bulk_delete"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One operator action: ``subject`` is the token's ``sub`` (None on a queue with auth
    off), ``count`` how many messages it acted on. ``id`` (a UUID) breaks ties of ``at`` in
    the newest-first order; ``at`` is in whole milliseconds, as every Conveyor time."""

    subject: str | None
    action: AuditAction
    queue: str
    target: AuditTarget
    count: int
    at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=uuid4_text)

    def to_public(self) -> dict[str, Json]:
        """``{"at", "subject", "action", "queue", "target", "count"}`` (``GET /audit``)."""
        return {
            "at": iso(self.at),
            "subject": self.subject,
            "action": self.action.value,
            "queue": self.queue,
            "target": self.target,
            "count": self.count,
        }
