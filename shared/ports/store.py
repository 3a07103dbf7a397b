"""The record store, as four small protocols split by who calls them.

- :class:`Records`: a message's record as clients see it (insert, get, delete, list, counts);
  the messaging service's push/get/delete/list.
- :class:`Claims`: a run's life (claim, renew, finish, release, schedule a retry, redrive,
  cancel); the consumer, redrive and cancel.
- :class:`Recovery`: what brings lost work back (publish marks, unpublished/pending scans,
  abandoned claims, expiry); the recovery sweep and start-up recovery.
- :class:`Keys`: idempotency keys; the idempotent push.
- :class:`ProgressReports`: a running handler's ``ctx.progress``; the consumer.
- :class:`ScheduleStates` (``shared.ports.schedules``): the last tick of each cron schedule.
- The operator features' ports (``shared.ports.operations``): :class:`Audit` (the operator
  actions' audit log), :class:`QueuePauses` (paused queues and their parked records),
  :class:`Rollups` (per-minute counts of finished runs), :class:`Search` (indexes on body
  fields) and :class:`Workers` (the consumer processes' heartbeats).

:class:`Store` is all of them plus the lifecycle (:class:`StoreLifecycle`); an adapter
package (``shared.adapters.sqlite``, ``shared.adapters.mongo``) implements it as one class
composed of one module per protocol (``records``, ``claims``, ``sweeps``, ``keys``,
``ticks``, ``audit``), and callers depend on the narrow protocol they need.

Leases. A consumer that claims a message owns it until ``lease_until``; it renews the lease
while the handler runs. A claim on an ``INPROGRESS`` record whose lease has expired takes it
over (its holder died); a claim on one whose lease is live answers ``BUSY`` so the caller can
wait instead of running the message twice at once.

Versions and history. Every write that changes a record's status (:meth:`Records.insert`,
and the claims, finishes, releases, retries, redrives and recovery decisions below) bumps its
``version`` by one and appends a :class:`shared.domain.message.Transition` to its ``history``
(keeping the last ``HISTORY_LIMIT``), in the same atomic write as the status, so readers
never see one without the other. :meth:`ProgressReports.record_progress` bumps ``version``
too. Other writes (leases, publish marks, due times) leave both alone.

Every method is safe to call concurrently and raises :class:`StoreUnavailable` when the
store cannot be reached (nothing half-written), unless its docstring says otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from shared.domain.idempotency import IdempotencyEntry
from shared.domain.message import ErrorInfo, MessageRecord, Progress, Status
from shared.ports.operations import Audit, FieldMatch, QueuePauses, Rollups, Search, Workers
from shared.ports.schedules import ScheduleStates
from shared.ports.types import (
    Cancel,
    Claim,
    Finished,
    ListCursor,
    MessageRef,
    Outcome,
    QueueCounts,
    StoreRejected,
)


class StoreLifecycle(Protocol):
    """Opening, closing and probing a store, and what kind of store it is."""

    @property
    def shared_between_processes(self) -> bool:
        """True when other processes may hold claims in this store at the same time.

        False only when this process is the store's sole user (the embedded SQLite file,
        locked): then start-up recovery may put every ``INPROGRESS`` record back, since no
        live consumer elsewhere can hold one. Set per opened instance.
        """

    async def open(self) -> None:
        """Connect and create the schema/indexes idempotently. Raises StoreUnavailable."""

    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def identity(self) -> str:
        """This store's identity: a random id (32 hex digits) created by the first
        :meth:`open` of the store and kept in it (a SQLite file's row, a MongoDB document).

        The same from every process and every reopen of one store (concurrent first opens
        agree on one), different for two stores; a wiped store gets a new one. A broker's
        queue prefix is bound to it (``shared.adapters.rabbitmq.identity``), so two
        deployments never take each other's deliveries. Raises StoreUnavailable.
        """

    async def ping(self) -> None:
        """Return if the store answers; raise StoreUnavailable otherwise, and also while a
        write was refused for a full or read-only disk less than a few seconds ago with no
        write succeeding since (``shared.adapters.sqlite.disk_refusals``), where the adapter can
        tell that cause apart. Writes nothing."""


class Records(Protocol):
    """Message records as clients see them."""

    async def insert(self, record: MessageRecord) -> None:
        """Persist a new record durably before returning.

        Raises StoreRejected when the store refuses this content for good (too large), and
        RecordExists when a record with this id exists (of concurrent inserts of one id,
        exactly one succeeds: what makes a push with a derived id idempotent)."""

    async def insert_many(self, records: Sequence[MessageRecord]) -> list[str]:
        """Persist new records in one batch; the ids refused for good (too large), unstored.

        Raises StoreUnavailable on any other failure; some records may then be stored (the
        caller deletes them all again).
        """

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        """The record, or None if unknown on that queue."""

    async def delete(self, queue: str, message_id: str) -> bool:
        """Remove the record whatever its status; True if it existed."""

    async def list_records(
        self,
        queue: str,
        status: Status | None,
        limit: int,
        before: ListCursor | None,
        where: Sequence[FieldMatch] = (),
    ) -> list[MessageRecord]:
        """Up to ``limit`` records of ``queue`` (only ``status`` ones if given, and only those
        matching every ``where`` term: ``shared.ports.operations.Search``), newest first
        (``created_at`` descending, then ``id`` descending), strictly after ``before`` in that
        order when given (keyset pagination)."""

    async def counts(self) -> dict[str, QueueCounts]:
        """Per queue with any record: its record count by status and the ``created_at`` of
        its oldest PENDING record (None when none is pending). One aggregate query."""

    async def finished_since(self, since: datetime) -> dict[str, dict[Status, int]]:
        """Per queue, how many records reached each final status at or after ``since``
        (their ``updated_at``), whichever process finished them; queues with none are
        absent. One aggregate query over an index on ``(status, updated_at)``."""


class Claims(Protocol):
    """A run's life: claim, lease, final write, or back to waiting."""

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        """Atomically move PENDING (or INPROGRESS with an expired lease) to INPROGRESS.

        On success ``attempts`` is incremented, the lease is set to ``owner`` until
        ``lease_until`` and the returned record reflects that. Two concurrent claims never
        both succeed. A PENDING record whose retry is not yet due (:meth:`schedule_retry`)
        is not claimed: DEFERRED, with ``Claim.due``.
        """

    async def claim_many(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[Claim]:
        """:meth:`claim` for each of ``refs`` in one round trip: one answer per ref, in order.

        Each answer is exactly what :meth:`claim` alone would answer (each claim atomic per
        record, two concurrent claims of one record never both CLAIMED); a ref listed twice
        is claimed at most once (the later copies answer BUSY, its lease now live). Raises
        StoreUnavailable when the store cannot be reached; some of the claims may then be
        written (their leases expire like those of a consumer that died).

        The caller names the records (the deliveries it holds). A later "claim the next
        eligible records, chosen by the store" (fairness or priorities keyed on the caller)
        would be a sibling taking ``(queue, owner, lease_until, limit)`` and answering the
        same :class:`Claim` list, written by the same single statement with the choice made
        in its ``WHERE`` (SQLite) or filter (MongoDB).
        """

    async def renew(
        self, refs: Sequence[MessageRef], owner: str, lease_until: datetime
    ) -> list[MessageRef]:
        """Extend the lease of every listed INPROGRESS record still held by ``owner``.

        Returns those of them whose cancel was requested (:meth:`cancel`): the holder's
        safety net should it have missed the cancel signal.
        """

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        """Write the final status if the record is still INPROGRESS under ``owner``.

        False (and nothing written) when it was deleted or taken over meanwhile. Raises
        StoreRejected when the store refuses the result for good (too large).
        """

    async def finish_record(
        self, queue: str, message_id: str, owner: str, outcome: Outcome
    ) -> MessageRecord | None:
        """:meth:`finish`, answering the record as this write left it (None where
        :meth:`finish` answers False), read in the same atomic write: what a completion event
        carries to the gateways' waiters (``shared.service.carried``)."""

    async def finish_many(
        self, items: Sequence[tuple[MessageRef, Outcome]], owner: str
    ) -> list[Finished | StoreRejected]:
        """:meth:`finish` for each ``(ref, outcome)`` in one round trip: one answer per item.

        ``Finished.written`` as :meth:`finish` answers (False: nothing written, deleted or
        taken over), with ``Finished.record`` the record as the write left it where the
        store returns it with the write (SQLite), or as read right after it in the same call
        (MongoDB; None if it was deleted meanwhile, or changed to a status that is not
        final), or the StoreRejected :meth:`finish` would raise: a refused result fails its
        own item only, the others are written. A ref listed twice is written once (later
        copies: not written). Raises StoreUnavailable when the store cannot be reached; some
        items may then be written (a retry of those answers not written, as a retried
        :meth:`finish` would).
        """

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        """Put a record held by ``owner`` back to PENDING (graceful shutdown)."""

    async def schedule_retry(
        self, queue: str, message_id: str, owner: str, error: ErrorInfo, not_before: datetime
    ) -> bool:
        """Put a record held by ``owner`` back to PENDING for another attempt at ``not_before``.

        Sets ``error`` (visible between attempts), keeps ``attempts``, restarts the delivery
        count :meth:`Recovery.fail_abandoned` uses, and marks it unpublished (so the recovery
        sweep delivers it should the caller die before re-publishing). Until ``not_before``,
        :meth:`claim` answers DEFERRED. False (nothing written) if no longer held by ``owner``.
        """

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        """Put an ERROR record back to PENDING for a new run; the new record, else None.

        ``attempts`` restarts at 0 (the new run gets ``max_attempts`` attempts again),
        ``result``/``error``/schedule are cleared, and it is marked unpublished. None when
        the record is unknown or not ERROR (the caller tells those apart with ``get``).
        """

    async def cancel(self, queue: str, message_id: str, expires_at: datetime | None) -> Cancel:
        """Cancel a message, atomically according to its status.

        PENDING (also a delayed one or a waiting retry) → CANCELLED at once (schedule and
        lease cleared, ``expires_at`` set): a later claim answers FINAL, so it never runs.
        INPROGRESS → ``cancel_requested`` set (the status stays; the holder writes CANCELLED
        through :meth:`finish` when its handler stops; :meth:`renew` reports the flag, and
        a :meth:`claim` returns it, so a new holder cancels instead of running). Final → FINAL,
        unchanged; unknown → GONE. The returned record is the one after the change.
        """


class Recovery(Protocol):
    """What the recovery sweep and start-up recovery use to bring lost work back."""

    async def mark_published(self, refs: Sequence[MessageRef]) -> None:
        """Note that these messages reached the delivery channel (batched, best effort)."""

    def unpublished(self, older_than: datetime) -> AsyncIterator[MessageRef]:
        """PENDING records created before ``older_than`` never marked published, oldest first."""

    def pending(self) -> AsyncIterator[MessageRef]:
        """Every PENDING record that is due (no ``not_before`` later than now), oldest first
        (embedded start-up recovery; the others wait for :meth:`next_due`)."""

    async def next_due(self) -> datetime | None:
        """The earliest ``not_before`` of the PENDING records that have one (a delayed push
        or a retry), else None: when the embedded due timer must wake next."""

    async def release_all_inprogress(self) -> int:
        """Put every INPROGRESS record back to PENDING; only for a store's sole process
        (see :attr:`StoreLifecycle.shared_between_processes`)."""

    async def fail_abandoned(
        self, expired_before: datetime, min_attempts: int, error: ErrorInfo
    ) -> list[MessageRef]:
        """Mark ERROR the INPROGRESS records whose lease expired before ``expired_before``
        and that started at least ``min_attempts`` runs (their deliveries are exhausted).

        Runs are counted since the record was last put back by :meth:`Claims.schedule_retry`
        or :meth:`Claims.redrive` (each of those is a fresh broker message with a fresh
        delivery count). A record whose cancel was requested (:meth:`Claims.cancel`) is left
        alone: :meth:`release_expired` puts it back, and its next claim, which returns the
        flag, ends it ``CANCELLED`` without running it.
        """

    async def release_expired(self, expired_before: datetime) -> list[MessageRef]:
        """Put back to PENDING (unpublished, lease cleared, ``attempts`` kept) every
        INPROGRESS record whose lease expired before ``expired_before``; their refs.

        For the recovery sweep, after :meth:`fail_abandoned` took those out of runs: the
        caller publishes them again (their broker copy may be dead-lettered or lost). A
        record claimed or finished meanwhile is left alone.
        """

    async def take_overdue(self, due_before: datetime) -> list[MessageRef]:
        """Clear the due time of PENDING records due before ``due_before`` and mark them
        unpublished; their refs.

        For the recovery sweep: a retry (or delayed message) due that long ago and still not
        claimed may have lost its broker copy; the caller publishes it again, once (the due
        time is gone, so a later pass does not pick it again).
        """

    async def count_queued(self, queue: str) -> int:
        """How many records of ``queue`` are ``queued`` and marked published: PENDING, due
        (no ``not_before`` later than now), :meth:`mark_published` done. What the broker
        should hold for ``queue`` (ready or in a consumer's hands). One count query."""

    async def idle_queued(self, queue: str, idle_before: datetime, limit: int) -> list[MessageRef]:
        """Up to ``limit`` records of ``queue`` counted by :meth:`count_queued` that have
        waited unclaimed since before ``idle_before`` (``updated_at``, their last status
        change, and ``not_before``, when they came due, both before it), oldest first.

        For the recovery sweep's re-delivery; writes nothing (a duplicate delivery costs at
        most a claim that answers not PENDING)."""

    async def delete_expired(self, now: datetime) -> int:
        """Delete the final records whose ``expires_at`` (see :class:`Outcome`) is before
        ``now``; how many. Stores that expire records by themselves may do nothing here."""


class Keys(Protocol):
    """Idempotency keys (see ``shared.domain.idempotency``)."""

    async def reserve_key(self, entry: IdempotencyEntry) -> IdempotencyEntry | None:
        """Bind ``entry.key`` in ``entry.scope`` to ``entry`` (state RESERVED), atomically.

        None: the caller now holds the key. Otherwise the live entry holding it, unchanged (of
        concurrent reservations exactly one gets None). An entry past its ``expires_at`` is
        absent: it is replaced.
        """

    async def finish_key(self, scope: str, key: str, message_id: str) -> bool:
        """Mark the key DONE if it is still bound to ``message_id``; True if it was."""

    async def release_key(self, scope: str, key: str, message_id: str) -> bool:
        """Delete the key if it is still bound to ``message_id``; True if it was."""


class ProgressReports(Protocol):
    """A running handler's progress (``ctx.progress``)."""

    async def record_progress(
        self, queue: str, message_id: str, owner: str, progress: Progress
    ) -> bool:
        """Set the record's ``progress`` and bump its ``version``, if it is still INPROGRESS
        under ``owner``; False (nothing written) otherwise. Status and history are untouched."""


class Store(
    StoreLifecycle,
    Records,
    Claims,
    Recovery,
    Keys,
    ProgressReports,
    ScheduleStates,
    Workers,
    Audit,
    Search,
    Rollups,
    QueuePauses,
    Protocol,
):
    """Everything a store adapter implements (callers take the narrow protocol they use)."""
