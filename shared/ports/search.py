"""Search on message bodies: the store side of ``?where=field:value``.

A queue's definition marks top-level string, integer or boolean properties as indexed
(``shared.queues.indexed_fields``). :meth:`Search.build_index` builds the store's index on one
such field of one queue's records (partial on the queue: records of other queues never enter
it, so a queue with no indexed field pays nothing per push). ``Records.list_records`` and
:meth:`Search.count_records` take :class:`FieldMatch` terms (ANDed): a record matches a term
when its request is a JSON object whose top-level ``field`` equals ``value`` with the same JSON
type (an integer also equals the same number written with a fraction of zero, ``1.0``, as JSON
Schema counts it an integer). Matching is exact with or without the index; the index is
what makes it cheap, and the service (``shared.service.search``) refuses searches on a field
whose index is not built yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.domain.message import Status
from shared.ports.types import ListCursor


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """One ``where`` term: the top-level ``field`` of the request equals ``value``.

    ``field`` matches ``shared.queues.indexed_fields.FIELD_RE`` (adapters put it in index
    names and JSON paths); ``value`` is typed as the schema declares the field.
    """

    field: str
    value: str | int | bool


class Search(Protocol):
    """Indexes on message-body fields, and counting what a filter selects."""

    async def build_index(self, queue: str, field: str) -> None:
        """Create the index on ``field`` of ``queue``'s records unless it exists; return when
        it is usable. Idempotent, safe from several processes at once; may take as long as
        reading every record of the queue (the caller runs it in the background)."""

    async def count_records(
        self,
        queue: str,
        status: Status | None,
        where: Sequence[FieldMatch],
        limit: int,
        before: ListCursor | None = None,
        after: datetime | None = None,
    ) -> int:
        """How many records ``list_records(queue, status, limit, before, where)`` would give
        (capped at ``limit``), counting only those created strictly after ``after`` when it is
        given. One count query; reads no record body beyond the index where one applies."""
