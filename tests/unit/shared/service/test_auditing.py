"""``shared.service.auditing.AuditTrail``: an entry the store cannot take is logged with every
field, and the action that was already done is not failed; reads map the outage to
``Unavailable``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import pytest

from shared.domain.audit_entry import AuditAction, AuditEntry, AuditTarget
from shared.ports import ListCursor, StoreUnavailable
from shared.service import Unavailable
from shared.service.auditing import AuditTrail


class DownAudit:
    """An audit store that cannot be reached."""

    async def record_audit(self, entry: AuditEntry) -> None:
        raise StoreUnavailable("down")

    async def list_audit(
        self, queues: Collection[str] | None, limit: int, before: ListCursor | None
    ) -> list[AuditEntry]:
        raise StoreUnavailable("down")

    async def delete_audit_older_than(self, before: datetime) -> int:
        raise StoreUnavailable("down")


async def test_an_unstored_entry_is_logged_with_every_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    target: AuditTarget = {"status": "ERROR", "limit": 5}
    entry = await AuditTrail(DownAudit()).record("alice", AuditAction.BULK_RETRY, "q", target, 3)
    assert (entry.subject, entry.action, entry.queue, entry.target, entry.count) == (
        "alice",
        AuditAction.BULK_RETRY,
        "q",
        target,
        3,
    )
    [logged] = [r for r in caplog.records if r.name == "shared.service.auditing"]
    assert logged.levelname == "ERROR"
    assert logged.__dict__["audit"] == entry.to_public()


async def test_reading_an_unreachable_log_is_unavailable() -> None:
    with pytest.raises(Unavailable):
        await AuditTrail(DownAudit()).page(None, 10, None)
