"""The store's register of consumer processes: each one's last heartbeat.

Every consumer process (``conveyor consumer``, and the consumer inside ``conveyor serve``)
writes its :class:`WorkerInfo` every few seconds (``consumer.presence``); ``GET /workers``
reads the register and calls a worker ``gone`` when its last beat is too old. Kept in the
store, so it works in every mode and needs no broker management API.

One write per beat, keyed by the worker's id (its claim owner id, so a record's ``owner``
names the worker holding it). Every method raises ``StoreUnavailable`` when the store cannot
be reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One consumer process as its last heartbeat described it."""

    #: The id it claims messages under (``host:pid:suffix``): a record's lease owner.
    id: str
    host: str
    pid: int
    #: The Conveyor version it runs.
    version: str
    #: The queues it consumes (sorted).
    queues: tuple[str, ...]
    #: Messages it runs at once per queue.
    concurrency: int
    #: Messages it was running at the beat.
    in_flight: int
    started_at: datetime
    last_seen_at: datetime


class Workers(Protocol):
    """Heartbeats of consumer processes, one entry per worker id."""

    async def beat(self, info: WorkerInfo) -> None:
        """Write ``info`` as the worker's entry (created, or replaced whole)."""

    async def list_workers(self) -> list[WorkerInfo]:
        """Every entry, ordered by id (one query)."""

    async def prune(self, older_than: datetime) -> int:
        """Delete the entries last seen before ``older_than``; how many."""
