"""The store's ports of the operator features: the audit log, queue pauses, run rollups,
search on message bodies and the workers register.

Each is kept in the store (SQLite tables, MongoDB collections of their own), so every gateway
and consumer sees one state, in every mode, and it survives restarts. Every method raises
``StoreUnavailable`` when the store cannot be reached.

- :class:`Audit`: one entry per operator action (``shared.domain.audit_entry``), so every gateway
  writes to one log. An entry is written once, never changed, and deleted only by
  :meth:`Audit.delete_audit_older_than` (the retention).
- :class:`QueuePauses`: which queues are paused, and the records parked meanwhile. A parked
  record is a ``PENDING`` one whose ``not_before`` is
  :data:`shared.domain.message.PARKED_UNTIL`: the claim refuses it (``DEFERRED``) and no sweep
  or due timer ever finds it due, so nothing delivers it until :meth:`QueuePauses.unpark`
  gives it back.
- :class:`Rollups`: per-minute rollups of finished runs (``shared.domain.run_stats``).
  Consumers count runs in memory and add them here every few seconds; the gateway reads a
  queue's last hour for the dashboard's charts. One row per (queue, minute), written only by
  increments, so any number of consumers may add to the same row at once and the row is the
  exact sum of what they added.
- :class:`Search`: the store side of ``?where=field:value``. A queue's definition marks
  top-level string, integer or boolean properties as indexed (``shared.queues.indexed_fields``).
  :meth:`Search.build_index` builds the store's index on one such field of one queue's records
  (partial on the queue: records of other queues never enter it, so a queue with no indexed
  field pays nothing per push). ``Records.list_records`` and :meth:`Search.count_records` take
  :class:`FieldMatch` terms (ANDed): a record matches a term when its request is a JSON object
  whose top-level ``field`` equals ``value`` with the same JSON type (an integer also equals the
  same number written with a fraction of zero, ``1.0``, as JSON Schema counts it an integer).
  Matching is exact with or without the index; the index is what makes it cheap, and the
  service (``shared.service.searching``) refuses searches on a field whose index is not built yet.
- :class:`Workers`: the register of consumer processes, each one's last heartbeat. Every
  consumer process (``conveyor consumer``, and the consumer inside ``conveyor serve``) writes
  its :class:`WorkerInfo` every few seconds (``consumer.presence``); ``GET /workers`` reads
  the register and calls a worker ``gone`` when its last beat is too old, with no broker
  management API. One write per beat, keyed by the worker's id (its claim owner id, so a
  record's ``owner`` names the worker holding it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.domain.audit_entry import AuditEntry
from shared.domain.message import Status
from shared.domain.pause import PauseState
from shared.domain.run_stats import Rollup
from shared.ports.types import ListCursor, MessageRef


class Audit(Protocol):
    """The audit log: append, page through newest first, trim."""

    async def record_audit(self, entry: AuditEntry) -> None:
        """Persist ``entry`` durably before returning (one write)."""

    async def list_audit(
        self, queues: Collection[str] | None, limit: int, before: ListCursor | None
    ) -> list[AuditEntry]:
        """Up to ``limit`` entries of ``queues`` (every queue when None; none when empty),
        newest first (``at`` descending, then ``id`` descending), strictly after ``before``
        in that order when given (keyset pagination: ``ListCursor(at, id)``)."""

    async def delete_audit_older_than(self, before: datetime) -> int:
        """Delete the entries whose ``at`` is before ``before``; how many."""


class QueuePauses(Protocol):
    """Pause states per queue, and parking a paused queue's records."""

    async def pause_queue(self, state: PauseState) -> PauseState:
        """Store ``state`` unless the queue is already paused; the stored state (the first
        pause's time and subject stay: pausing is idempotent)."""

    async def resume_queue(self, queue: str) -> bool:
        """Forget ``queue``'s pause; True if it was paused."""

    async def paused_queues(self) -> list[PauseState]:
        """Every stored pause (one query)."""

    async def park(self, queue: str, message_id: str, now: datetime) -> bool:
        """Park the record if it is ``PENDING`` and due at ``now``; True if parked."""

    async def unpark(self, queue: str, message_id: str | None = None) -> list[MessageRef]:
        """Make ``queue``'s parked records (only ``message_id`` when given) due again, marked
        unpublished; the refs unparked (each exactly once among concurrent callers)."""


class Rollups(Protocol):
    """Per (queue, minute): a :class:`Rollup`, the sum of every one added for it."""

    async def add_rollups(self, rows: Sequence[Rollup]) -> None:
        """Add each of ``rows`` (at most one per (queue, minute)) to the stored row of its
        queue and minute, creating it if none: every counter and bucket count is
        incremented, atomically per row (concurrent adds of one row lose nothing).

        On ``StoreUnavailable`` some rows may be added and others not, and a row may be
        added though the answer was lost: the caller must not add them again (a chart may
        miss some seconds of an outage, but never counts a run twice)."""

    async def read_rollups(self, queue: str, since: datetime) -> list[Rollup]:
        """``queue``'s rows of ``since``'s minute and later, oldest first."""

    async def prune_rollups(self, before: datetime) -> int:
        """Delete every row of a minute before ``before``; how many."""


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """One ``where`` term: the top-level ``field`` of the request equals ``value``.

    ``field`` matches ``shared.queues.indexed_fields.FIELD_RE`` (adapters put it in index
    names and JSON paths); ``value`` is typed as the schema declares the field.
    """

    field: str
    value: str | int | bool


class Search(Protocol):
    """Indexes on message-body fields, and counting what a filter selects."""

    async def build_index(self, queue: str, field: str) -> None:
        """Create the index on ``field`` of ``queue``'s records unless it exists; return when
        it is usable. Idempotent, safe from several processes at once; may take as long as
        reading every record of the queue (the caller runs it in the background)."""

    async def count_records(
        self,
        queue: str,
        status: Status | None,
        where: Sequence[FieldMatch],
        limit: int,
        before: ListCursor | None = None,
        after: datetime | None = None,
    ) -> int:
        """How many records ``list_records(queue, status, limit, before, where)`` would give
        (capped at ``limit``), counting only those created strictly after ``after`` when it is
        given. One count query; reads no record body beyond the index where one applies."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One consumer process as its last heartbeat described it."""

    #: The id it claims messages under (``host:pid:suffix``): a record's lease owner.
    id: str
    host: str
    pid: int
    #: The Conveyor version it runs.
    version: str
    #: The queues it consumes (sorted).
    queues: tuple[str, ...]
    #: Messages it runs at once per queue.
    concurrency: int
    #: Messages it was running at the beat.
    in_flight: int
    started_at: datetime
    last_seen_at: datetime


class Workers(Protocol):
    """Heartbeats of consumer processes, one entry per worker id."""

    async def beat(self, info: WorkerInfo) -> None:
        """Write ``info`` as the worker's entry (created, or replaced whole)."""

    async def list_workers(self) -> list[WorkerInfo]:
        """Every entry, ordered by id (one query)."""

    async def prune(self, older_than: datetime) -> int:
        """Delete the entries last seen before ``older_than``; how many."""
