"""The audit log's service side: recording operator actions, reading them, trimming them.

:meth:`AuditTrail.record` is the one hook every operator action calls once it is done
(redrive, bulk actions, an admin's cancel or delete, and pause/resume when they exist): one
store write per action, whatever the number of messages it touched, none on the message
path. The action has already happened when it is recorded, so a store that fails that write
does not undo or fail it: the entry is logged at ERROR with every field instead (the log is
then the record). Reads raise :class:`Unavailable` like the rest of the service.
:meth:`AuditTrail.trim` is the retention (``--audit-retention-days``), run by the consumers'
expiry sweep (``consumer.completion``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from shared.domain.audit_entry import AuditAction, AuditEntry, AuditTarget
from shared.ports import Audit, ListCursor, StoreUnavailable
from shared.service.errors import store_down

log = logging.getLogger(__name__)


class AuditTrail:
    """Operator actions in the store's audit log (``shared.ports.Audit``)."""

    def __init__(self, store: Audit) -> None:
        self._store = store

    async def record(
        self,
        subject: str | None,
        action: AuditAction,
        queue: str,
        target: AuditTarget,
        count: int,
    ) -> AuditEntry:
        """Record that ``subject`` did ``action`` on ``target`` of ``queue``, touching
        ``count`` messages; the entry. Never raises for the store (see the module)."""
        entry = AuditEntry(subject, action, queue, target, count)
        try:
            await self._store.record_audit(entry)
        except StoreUnavailable as exc:
            fields = entry.to_public()
            log.error("audit entry not stored (%s): %s", exc, fields, extra={"audit": fields})
        return entry

    async def page(
        self, queues: Collection[str] | None, limit: int, before: ListCursor | None
    ) -> list[AuditEntry]:
        """Up to ``limit`` entries of ``queues`` (None: all), newest first, after
        ``before`` (see ``Audit.list_audit``). Raises Unavailable."""
        try:
            return await self._store.list_audit(queues, limit, before)
        except StoreUnavailable:
            raise store_down() from None

    async def trim(self, now: datetime, retention: timedelta) -> int:
        """Delete the entries older than ``retention`` at ``now``; how many. Raises
        StoreUnavailable (the sweep logs it and tries again on its next pass)."""
        return await self._store.delete_audit_older_than(now - retention)
