"""The store's queue pauses: which queues are paused, and the records parked meanwhile.

A pause is kept in the store (a SQLite table, a MongoDB collection of its own), so every
gateway and consumer sees one state and it survives restarts. A parked record is a
``PENDING`` one whose ``not_before`` is :data:`shared.domain.message.PARKED_UNTIL`: the claim
refuses it (``DEFERRED``) and no sweep or due timer ever finds it due, so nothing delivers it
until :meth:`QueuePauses.unpark` gives it back. Every method raises ``StoreUnavailable`` when
the store cannot be reached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from shared.domain.pause import PauseState
from shared.ports.types import MessageRef


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
