"""Bulk actions on a queue's messages: the service side of ``POST /{queue}/bulk/{action}``
(its HTTP side, the same concept one layer up, is ``gateway.routes.bulk``).

A :class:`BulkFilter` selects up to ``limit`` (at most :data:`MAX_BULK`) of a queue's
messages, newest first, by status, creation time (``created_after < created_at <
created_before``, both bounds exclusive and optional) and indexed body fields
(``where``). The selection is read first (:func:`select`, pages of
``Records.list_records``), then the action runs on each selected message,
:data:`CONCURRENCY` at a time, exactly as the single-message operation would (cancel,
redrive, delete): a message that changed meanwhile is skipped with the reason, never
forced. The answer lists the ids acted on and the ids skipped with their reason. A dry run
(``Messaging.bulk_count``) only counts the selection, in one store query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.domain.message import Json, MessageRecord, Status, iso
from shared.ports import FieldMatch, ListCursor, Records
from shared.service.errors import MessagingError

#: The most messages one bulk request may select.
MAX_BULK = 10_000
#: Messages acted on at once (their store writes and publishes overlap).
CONCURRENCY = 64
#: Records read per listing page while selecting.
PAGE = 500


class BulkAction(StrEnum):
    """What a bulk request does to each selected message."""

    CANCEL = "cancel"
    RETRY = "retry"  #: redrive (ERROR messages only)
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class BulkFilter:
    """Which messages: ``status`` (any when None), created strictly between
    ``created_after`` and ``created_before`` (aware datetimes, each optional), matching every
    ``where`` term, newest first, at most ``limit`` (1 to :data:`MAX_BULK`)."""

    limit: int
    status: Status | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    #: Body-field terms, ANDed (``shared.ports.operations.FieldMatch``).
    where: tuple[FieldMatch, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_BULK:
            raise ValueError(f"limit must be from 1 to {MAX_BULK}")
        for bound in (self.created_before, self.created_after):
            if bound is not None and bound.tzinfo is None:
                raise ValueError("created_before/created_after need a time zone")

    def to_public(self) -> dict[str, str | int | None]:
        """``{"status", "created_before", "created_after", "where", "limit"}`` (null: not
        given), as the audit log shows a bulk action's target; ``where`` is the terms as the
        request gave them, space-separated (``sku:apple paid:true``)."""
        before, after = self.created_before, self.created_after
        terms = " ".join(f"{m.field}:{_term_value(m.value)}" for m in self.where)
        return {
            "status": self.status.value if self.status else None,
            "created_before": iso(before) if before else None,
            "created_after": iso(after) if after else None,
            "where": terms or None,
            "limit": self.limit,
        }


def _term_value(value: str | int | bool) -> str:
    """A ``where`` term's value as a request writes it (booleans ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(slots=True)
class BulkResult:
    """The ids acted on, in selection order, and those skipped with the reason."""

    acted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_public(self) -> dict[str, Json]:
        """``{"acted": [ids], "skipped": [{"id", "reason"}]}``."""
        return {
            "acted": self.acted,
            "skipped": [{"id": i, "reason": reason} for i, reason in self.skipped],
        }


async def select(records: Records, queue: str, where: BulkFilter) -> list[MessageRecord]:
    """Up to ``where.limit`` records of ``queue`` matching ``where``, newest first."""
    cursor = ListCursor(where.created_before, "") if where.created_before else None
    chosen: list[MessageRecord] = []
    while len(chosen) < where.limit:
        page = min(PAGE, where.limit - len(chosen))
        rows = await records.list_records(queue, where.status, page, cursor, where.where)
        for row in rows:
            if where.created_after is not None and row.created_at <= where.created_after:
                return chosen
            chosen.append(row)
        if len(rows) < page:
            break
        cursor = ListCursor(rows[-1].created_at, rows[-1].id)
    return chosen


#: Runs the action on one message; raises the MessagingError that makes it a skip.
ActOn = Callable[[MessageRecord], Awaitable[None]]


async def act_on_each(chosen: Sequence[MessageRecord], act: ActOn) -> BulkResult:
    """Run ``act`` on every record, :data:`CONCURRENCY` at a time; who was acted on and who
    was skipped (a MessagingError's text is the reason)."""
    outcome: dict[str, str | None] = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(record: MessageRecord) -> None:
        async with gate:
            try:
                await act(record)
            except MessagingError as exc:
                outcome[record.id] = str(exc)
            else:
                outcome[record.id] = None

    await asyncio.gather(*(one(record) for record in chosen))
    result = BulkResult()
    for record in chosen:
        reason = outcome[record.id]
        if reason is None:
            result.acted.append(record.id)
        else:
            result.skipped.append((record.id, reason))
    return result
