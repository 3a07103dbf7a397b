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


@dataclass(frozen=True, slots=True)
class Claim:
    """The result of a claim: the outcome and, when claimed or busy, the record."""

    outcome: ClaimOutcome
    record: MessageRecord | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final state a handler run produced."""

    status: Status
    result: Json = None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Enough to re-deliver a message: its queue and id."""

    queue: str
    id: str


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

    async def get(self, queue: str, message_id: str) -> MessageRecord | None:
        """The record, or None if unknown on that queue."""

    async def delete(self, queue: str, message_id: str) -> bool:
        """Remove the record whatever its status; True if it existed."""

    async def claim(self, queue: str, message_id: str, owner: str, lease_until: datetime) -> Claim:
        """Atomically move PENDING (or INPROGRESS with an expired lease) to INPROGRESS.

        On success ``attempts`` is incremented, the lease is set to ``owner`` until
        ``lease_until`` and the returned record reflects that. Two concurrent claims never
        both succeed.
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
        and that started at least ``min_attempts`` runs (their deliveries are exhausted)."""


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


class Delivery(Protocol):
    """Moves message ids from the gateway to consumers, at least once."""

    async def open(self, queues: Sequence[str]) -> None:
        """Connect and declare what ``queues`` need, idempotently."""

    async def publish(self, queue: str, message_id: str) -> None:
        """Hand the message over; returns only once it is durably accepted.

        Raises DeliveryUnavailable when it was not (the caller undoes its record).
        """

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        """Start calling ``callback`` for deliveries; at most ``prefetch`` unsettled per queue."""

    async def stop_consuming(self) -> None:
        """Stop new deliveries; unsettled ones can still be settled."""

    async def ping(self) -> None:
        """Return if delivery works; raise DeliveryUnavailable otherwise."""

    async def close(self) -> None:
        """Close connections. Unsettled deliveries return to the queue."""
