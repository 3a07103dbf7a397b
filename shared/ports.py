"""The two ports every mode plugs into: the record :class:`Store` and the :class:`Delivery`.

Adapters: ``shared.stores.sqlite`` and ``shared.stores.mongo`` for the store,
``shared.delivery.inprocess`` and ``shared.delivery.rabbitmq`` for delivery. Nothing above
this module (HTTP layer, consumer, handlers) sees a driver type.

Leases. A consumer that claims a message owns it until ``lease_until``; it renews the lease
while the handler runs. A claim on an ``INPROGRESS`` record whose lease has expired takes it
over (its holder died); a claim on one whose lease is live answers ``BUSY`` so the caller can
wait instead of running the message twice at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from shared.idempotency import IdempotencyEntry
from shared.records import ErrorInfo, Json, MessageRecord, Status


class StoreUnavailable(Exception):
    """The store cannot be reached or refused the operation; nothing was half-written."""


class StoreRejected(Exception):
    """The store refuses this content for good (e.g. larger than its document limit).

    Retrying cannot help, unlike :class:`StoreUnavailable`.
    """


class DeliveryUnavailable(Exception):
    """The delivery channel could not accept (or confirm) a message."""


class ClaimOutcome(Enum):
    """What :meth:`Store.claim` found."""

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


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final state a handler run produced."""

    status: Status
    result: Json = None
    error: ErrorInfo | None = None
    #: When the finished record may be deleted (the queue's ``result_ttl_seconds``); None: kept.
    expires_at: datetime | None = None


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


class Store(Protocol):
    """Durable message records. Every method is safe to call concurrently."""

    async def open(self) -> None:
        """Connect and create the schema/indexes idempotently. Raises StoreUnavailable."""

    async def close(self) -> None:
        """Release connections. Idempotent."""

    async def ping(self) -> None:
        """Return if the store answers; raise StoreUnavailable otherwise."""

    async def insert(self, record: MessageRecord) -> None:
        """Persist a new record durably before returning. Raises StoreUnavailable."""

    async def insert_many(self, records: Sequence[MessageRecord]) -> list[str]:
        """Persist new records in one batch; the ids refused for good (too large), unstored.

        Raises StoreUnavailable on any other failure; some records may then be stored (the
        caller deletes them all again).
        """

    async def reserve_key(self, entry: IdempotencyEntry) -> IdempotencyEntry | None:
        """Bind ``entry.key`` in ``entry.scope`` to ``entry`` (state RESERVED), atomically.

        None: the caller now holds the key. Otherwise the live entry holding it, unchanged (of
        concurrent reservations exactly one gets None). An entry past its ``expires_at`` is
        absent: it is replaced. Raises StoreUnavailable.
        """

    async def finish_key(self, scope: str, key: str, message_id: str) -> bool:
        """Mark the key DONE if it is still bound to ``message_id``; True if it was."""

    async def release_key(self, scope: str, key: str, message_id: str) -> bool:
        """Delete the key if it is still bound to ``message_id``; True if it was."""

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        """The record, or None if unknown on that queue."""

    async def delete(self, queue: str, message_id: str) -> bool:
        """Remove the record whatever its status; True if it existed."""

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        """Atomically move PENDING (or INPROGRESS with an expired lease) to INPROGRESS.

        On success ``attempts`` is incremented, the lease is set to ``owner`` until
        ``lease_until`` and the returned record reflects that. Two concurrent claims never
        both succeed. A PENDING record whose retry is not yet due (:meth:`schedule_retry`)
        is not claimed: DEFERRED, with ``Claim.due``.
        """

    async def renew(self, refs: Sequence[MessageRef], owner: str, lease_until: datetime) -> None:
        """Extend the lease of every listed INPROGRESS record still held by ``owner``."""

    async def finish(self, queue: str, message_id: str, owner: str, outcome: Outcome) -> bool:
        """Write the final status if the record is still INPROGRESS under ``owner``.

        False (and nothing written) when it was deleted or taken over meanwhile.
        """

    async def release(self, queue: str, message_id: str, owner: str) -> bool:
        """Put a record held by ``owner`` back to PENDING (graceful shutdown)."""

    async def release_all_inprogress(self) -> int:
        """Put every INPROGRESS record back to PENDING; only for a store's sole process."""

    async def mark_published(self, refs: Sequence[MessageRef]) -> None:
        """Note that these messages reached the delivery channel (batched, best effort)."""

    def unpublished(self, older_than: datetime) -> AsyncIterator[MessageRef]:
        """PENDING records created before ``older_than`` never marked published, oldest first."""

    def pending(self) -> AsyncIterator[MessageRef]:
        """Every PENDING record, oldest first (embedded start-up recovery)."""

    async def fail_abandoned(
        self, expired_before: datetime, min_attempts: int, error: ErrorInfo
    ) -> list[MessageRef]:
        """Mark ERROR the INPROGRESS records whose lease expired before ``expired_before``
        and that started at least ``min_attempts`` runs (their deliveries are exhausted).

        Runs are counted since the record was last put back by :meth:`schedule_retry` or
        :meth:`redrive` (each of those is a fresh broker message with a fresh delivery count).
        """

    async def schedule_retry(
        self, queue: str, message_id: str, owner: str, error: ErrorInfo, not_before: datetime
    ) -> bool:
        """Put a record held by ``owner`` back to PENDING for another attempt at ``not_before``.

        Sets ``error`` (visible between attempts), keeps ``attempts``, restarts the delivery
        count :meth:`fail_abandoned` uses, and marks it unpublished (so the recovery sweep
        delivers it should the caller die before re-publishing). Until ``not_before``,
        :meth:`claim` answers DEFERRED. False (nothing written) if no longer held by ``owner``.
        """

    async def redrive(self, queue: str, message_id: str) -> MessageRecord | None:
        """Put an ERROR record back to PENDING for a new run; the new record, else None.

        ``attempts`` restarts at 0 (the new run gets ``max_attempts`` attempts again),
        ``result``/``error``/schedule are cleared, and it is marked unpublished. None when
        the record is unknown or not ERROR (the caller tells those apart with :meth:`get`).
        """

    async def list_records(
        self, queue: str, status: Status | None, limit: int, before: ListCursor | None
    ) -> list[MessageRecord]:
        """Up to ``limit`` records of ``queue`` (only ``status`` ones if given), newest first
        (``created_at`` descending, then ``id`` descending), strictly after ``before`` in that
        order when given (keyset pagination). Raises StoreUnavailable."""

    async def delete_expired(self, now: datetime) -> int:
        """Delete the final records whose ``expires_at`` (see :class:`Outcome`) is before
        ``now``; how many. Stores that expire records by themselves may do nothing here."""

    async def counts(self) -> dict[str, QueueCounts]:
        """Per queue with any record: its record count by status and the ``created_at`` of
        its oldest PENDING record (None when none is pending). One aggregate query.
        Raises StoreUnavailable."""


class Delivered(Protocol):
    """One delivery of a message id to a consumer. Exactly one settle call is made."""

    @property
    def queue(self) -> str:
        """The queue definition name."""

    @property
    def message_id(self) -> str:
        """The message id (the record's key)."""

    @property
    def delivery_count(self) -> int:
        """How many times this message was delivered before (0 on the first delivery)."""

    async def ack(self) -> None:
        """Done with it: remove from delivery."""

    async def requeue(self) -> None:
        """Give it back for another consumer (counts as a delivery)."""


#: Called once per delivery; the callee owns settling it.
DeliveryCallback = Callable[[Delivered], Awaitable[None]]

#: Called for each completion event: ``(queue, message_id)``; must not block.
EventCallback = Callable[[str, str], None]


class Delivery(Protocol):
    """Moves message ids from the gateway to consumers, at least once."""

    async def open(self, queues: Sequence[str]) -> None:
        """Connect and declare what ``queues`` need, idempotently."""

    async def publish(self, queue: str, message_id: str) -> None:
        """Hand the message over; returns only once it is durably accepted.

        Raises DeliveryUnavailable when it was not (the caller undoes its record).
        """

    async def publish_many(self, queue: str, message_ids: Sequence[str]) -> set[str]:
        """Hand all messages over in one confirm window; the ids NOT durably accepted.

        Never raises for a message's failure (it is in the returned set; the caller undoes
        those records).
        """

    async def publish_later(self, queue: str, message_id: str, delay: float) -> None:
        """Deliver the message again in about ``delay`` seconds (a scheduled retry).

        The waiting message is held by the delivery channel, never by a consumer. It may come
        back somewhat early (the store's schedule, ``ClaimOutcome.DEFERRED``, is the authority)
        and is not durable in-process. Raises DeliveryUnavailable.
        """

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        """Start calling ``callback`` for deliveries; at most ``prefetch`` unsettled per queue."""

    async def stop_consuming(self, queues: Sequence[str] | None = None) -> None:
        """Stop new deliveries (of ``queues`` only, when given; others are undisturbed);
        unsettled ones can still be settled. :meth:`consume` may start a queue again."""

    async def ping(self) -> None:
        """Return if delivery works; raise DeliveryUnavailable otherwise."""

    async def publish_event(self, queue: str, message_id: str) -> None:
        """Tell every gateway that ``message_id`` reached a final status (best effort).

        Never raises: a lost event only delays waiting clients (they re-check the store).
        """

    async def subscribe_events(self, callback: EventCallback) -> None:
        """Call ``callback(queue, message_id)`` for every event published from now on."""

    async def close(self) -> None:
        """Close connections. Unsettled deliveries return to the queue."""
