"""The store's audit log: one entry per operator action (``shared.domain.audit``).

Kept in the store (a SQLite table, a MongoDB collection of its own), so every gateway writes
to one log and it survives restarts. An entry is written once, never changed, and deleted
only by :meth:`Audit.delete_audit_older_than` (the retention). Every method raises
``StoreUnavailable`` when the store cannot be reached.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from shared.domain.audit import AuditEntry
from shared.ports.types import ListCursor


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
