"""Conversions between :class:`MessageRecord` fields and what stores keep."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from shared.domain.message import ErrorInfo, Json, Status
from shared.domain.payloads import loads_stored
from shared.ports import QueueCounts


def to_epoch(ts: datetime) -> float:
    """Seconds since the epoch for a UTC datetime."""
    return ts.timestamp()


def from_epoch(value: float) -> datetime:
    """A UTC datetime from seconds since the epoch."""
    return datetime.fromtimestamp(value, UTC)


def error_to_text(error: ErrorInfo | None) -> str | None:
    """The stored (JSON text) form of an error."""
    return json.dumps(error.to_json()) if error else None


def error_from_text(text: str | None) -> ErrorInfo | None:
    """Parse a stored error."""
    return ErrorInfo.from_json(json.loads(text)) if text else None


def json_from_text(text: str | None) -> Json:
    """Parse stored JSON text; NULL is JSON null.

    orjson where it is exact (``shared.domain.payloads.loads_stored``): this runs on the
    store's thread for every claimed record, holding the GIL the event loop needs, so the
    faster parser pays (see bench/README.md).
    """
    return loads_stored(text) if text is not None else None


def counts_from_groups(groups: Iterable[tuple[str, str, int, datetime]]) -> dict[str, QueueCounts]:
    """Fold ``(queue, status, count, oldest created_at)`` groups into per-queue counts."""
    by_queue: dict[str, dict[Status, int]] = {}
    oldest: dict[str, datetime] = {}
    for queue, status, count, created in groups:
        by_queue.setdefault(queue, {})[Status(status)] = int(count)
        if status == Status.PENDING.value:
            oldest[queue] = created
    return {q: QueueCounts(by_status=c, oldest_pending=oldest.get(q)) for q, c in by_queue.items()}


def finished_from_groups(groups: Iterable[tuple[str, str, int]]) -> dict[str, dict[Status, int]]:
    """Fold ``(queue, status, count)`` groups into per-queue counts by final status."""
    by_queue: dict[str, dict[Status, int]] = {}
    for queue, status, count in groups:
        by_queue.setdefault(queue, {})[Status(status)] = int(count)
    return by_queue


def final_statuses() -> list[str]:
    """The final statuses' values (what :meth:`Records.finished_since` counts)."""
    return [s.value for s in Status if s.final]
