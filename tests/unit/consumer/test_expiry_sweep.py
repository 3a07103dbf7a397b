"""``consumer.completion.sweep_expired_once``: the expiry sweep's pass also enforces the audit
log's retention, at the time it is given (no clock read), on a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consumer.completion import sweep_expired_once
from shared.domain.audit_entry import AuditAction, AuditEntry
from shared.ports import Store
from shared.service.auditing import AuditTrail
from tests.support.stores import open_store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
RETENTION = timedelta(days=90)


@pytest.fixture
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """One SQLite store (``tests.support.stores.open_store``): the sweep's logic, not the
    adapters, is under test here (tests/contract/store/test_audit.py covers both adapters)."""
    async with open_store("sqlite", request, tmp_path) as adapter:
        yield adapter


async def entries_aged(store: Store, *days: float) -> None:
    for age in days:
        at = NOW - timedelta(days=age)
        await store.record_audit(AuditEntry("op", AuditAction.REDRIVE, "q", "m", 1, at=at))


async def ages_left(store: Store) -> list[float]:
    return [(NOW - e.at) / timedelta(days=1) for e in await store.list_audit(None, 10, None)]


async def test_a_pass_deletes_the_entries_older_than_the_retention(store: Store) -> None:
    await entries_aged(store, 200, 90.5, 89.5, 1)
    await sweep_expired_once(store, AuditTrail(store), NOW, RETENTION)
    assert await ages_left(store) == [1, 89.5]


async def test_a_pass_without_a_retention_leaves_the_audit_log_alone(store: Store) -> None:
    await entries_aged(store, 200, 1)
    await sweep_expired_once(store, AuditTrail(store), NOW, None)
    assert await ages_left(store) == [1, 200]


async def test_a_later_pass_deletes_what_has_aged_since(store: Store) -> None:
    await entries_aged(store, 89.5)
    await sweep_expired_once(store, AuditTrail(store), NOW, RETENTION)
    assert await ages_left(store) == [89.5]
    await sweep_expired_once(store, AuditTrail(store), NOW + timedelta(days=1), RETENTION)
    assert await ages_left(store) == []
