"""The values and errors that cross the ports: claims, outcomes, references, cursors, counts.

Plain frozen dataclasses and exceptions; no I/O. Adapters raise only the exceptions defined
here (never a driver's), so nothing above the ports depends on a driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from shared.domain.message import ErrorInfo, Json, MessageRecord, Status


class StoreUnavailable(Exception):
    """The store cannot be reached or refused the operation; nothing was half-written.

    ``transient`` is False when waiting cannot help (a file in use by another process, a
    path that cannot be opened): start-up does not retry those (``shared.platform.startup``).
    """

    transient: bool = True


class StoreRejected(Exception):
    """The store refuses this content for good (e.g. larger than its document limit).

    Retrying cannot help, unlike :class:`StoreUnavailable`.
    """


class DeliveryUnavailable(Exception):
    """The delivery channel could not accept (or confirm) a message."""

    #: As :attr:`StoreUnavailable.transient`.
    transient: bool = True


class ClaimOutcome(Enum):
    """What :meth:`shared.ports.Claims.claim` found."""

    CLAIMED = "claimed"  #: the caller now owns the message and must run it
    GONE = "gone"  #: no such record (deleted)
    FINAL = "final"  #: already COMPLETE or ERROR (a duplicate delivery)
    BUSY = "busy"  #: INPROGRESS under another owner's live lease
    DEFERRED = "deferred"  #: PENDING but scheduled for later (a retry); see ``Claim.due``


@dataclass(frozen=True, slots=True)
class Claim:
    """The result of a claim: the outcome and, when claimed or busy, the record."""

    outcome: ClaimOutcome
    record: MessageRecord | None = None
    due: datetime | None = None  #: when DEFERRED: the time the message may run


class CancelOutcome(Enum):
    """What :meth:`shared.ports.Claims.cancel` did."""

    CANCELLED = "cancelled"  #: it was PENDING: now CANCELLED, it never runs
    REQUESTED = "requested"  #: it is INPROGRESS: ``cancel_requested`` is set on it
    FINAL = "final"  #: already COMPLETE, ERROR or CANCELLED: nothing changed
    GONE = "gone"  #: no such record


@dataclass(frozen=True, slots=True)
class Cancel:
    """The result of a cancel: the outcome and the record after it (None when GONE)."""

    outcome: CancelOutcome
    record: MessageRecord | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final state a handler run produced."""

    status: Status
    result: Json = None
    error: ErrorInfo | None = None
    #: When the finished record may be deleted (the queue's ``result_ttl_seconds``); None: kept.
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """One answer of :meth:`shared.ports.Claims.finish_many`: whether the final write was
    made and, where the store has it, the record as it left it (what completion events
    carry to the gateways' waiters: ``shared.service.carried``)."""

    written: bool
    record: MessageRecord | None = None


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Enough to re-deliver a message: its queue and id."""

    queue: str
    id: str


@dataclass(frozen=True, slots=True)
class ListCursor:
    """A position in a newest-first listing: the last record shown."""

    created_at: datetime
    id: str


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """One queue's records by status (only statuses present), and its oldest PENDING one."""

    by_status: dict[Status, int]
    oldest_pending: datetime | None = None


class RecordExists(Exception):
    """A record with this id already exists: the insert wrote nothing.

    Of concurrent inserts of one id exactly one succeeds; the others raise this.
    """


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the store remembers of one cron schedule (``shared.domain.cron``).

    ``last_tick``: no tick at or before it fires any more (the last tick pushed, or when the
    schedule was first seen). ``fingerprint``: of the cron and time zone it was computed for.
    ``last_message_id``: the id of the last message pushed (None before the first push).
    """

    queue: str
    name: str
    fingerprint: str
    last_tick: datetime
    last_message_id: str | None = None
