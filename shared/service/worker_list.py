"""What ``GET /workers`` and ``GET /queues`` know about consumer processes: the store's
workers register (``shared.ports.operations.Workers``), each entry ``live`` or ``gone``.

A worker is ``live`` while its last heartbeat is at most ``gone_seconds`` old, else
``gone``; an entry older than ``forget_seconds`` is left out (the consumers delete those,
``consumer.presence``, but a deployment with none running must not show them for ever).
Decided when read, from the reader's clock (clocks must agree to well under
``gone_seconds``, as leases already need).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.ports import StoreUnavailable, WorkerInfo, Workers
from shared.service.errors import store_down


@dataclass(frozen=True, slots=True)
class SeenWorker:
    """One entry of the register and whether it is live at the time it was read."""

    info: WorkerInfo
    live: bool

    @property
    def state(self) -> str:
        return "live" if self.live else "gone"


@dataclass(frozen=True, slots=True)
class WorkerTimes:
    """When a worker without heartbeats is ``gone``, and when it is left out."""

    gone_seconds: float
    forget_seconds: float


async def seen_workers(workers: Workers, times: WorkerTimes, now: datetime) -> list[SeenWorker]:
    """The register's entries not yet forgotten at ``now``, ordered by id. Raises
    Unavailable."""
    try:
        entries = await workers.list_workers()
    except StoreUnavailable:
        raise store_down() from None
    gone_before = now - timedelta(seconds=times.gone_seconds)
    forgotten_before = now - timedelta(seconds=times.forget_seconds)
    return [
        SeenWorker(info, live=info.last_seen_at >= gone_before)
        for info in entries
        if info.last_seen_at >= forgotten_before
    ]


def live_per_queue(seen: list[SeenWorker]) -> Counter[str]:
    """How many live workers consume each queue."""
    return Counter(queue for worker in seen if worker.live for queue in worker.info.queues)
