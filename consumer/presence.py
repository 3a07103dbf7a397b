"""The consumer's heartbeat: its entry in the store's workers register (``GET /workers``).

Every ``--worker-heartbeat-seconds`` (default 5) the consumer writes one
:class:`shared.ports.WorkerInfo`: its id (the claim owner id, so an ``INPROGRESS`` record's
owner names the worker holding it), host, pid, version, the queues it consumes now (they
follow hot reloads), concurrency, messages in flight, when it started and now. That is the
whole cost: one store write per interval per consumer process, none per message. About once
a minute a beat also deletes entries last seen more than ``--worker-forget-seconds`` ago
(one more write), so the register holds only recent processes.

A beat the store refuses is logged and skipped: the next one tries again. The gateway
decides ``live``/``gone`` from ``last_seen_at`` when it answers (``gateway.routes.worker_list``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from consumer.worker import Consumer
from shared.domain.message import utcnow
from shared.ports import StoreUnavailable, WorkerInfo, Workers

log = logging.getLogger(__name__)
#: Seconds between prunes of forgotten workers (at the first beat after each).
PRUNE_EVERY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    """The heartbeat's timings (from the settings) and what it reports as the version."""

    interval_seconds: float
    forget_seconds: float
    version: str


def describe(consumer: Consumer, version: str, started_at: datetime, now: datetime) -> WorkerInfo:
    """``consumer`` as its heartbeat at ``now`` describes it."""
    return WorkerInfo(
        id=consumer.owner,
        host=socket.gethostname(),
        pid=os.getpid(),
        version=version,
        queues=tuple(sorted(consumer.queues)),
        concurrency=consumer.concurrency,
        in_flight=consumer.in_flight,
        started_at=started_at,
        last_seen_at=now,
    )


async def beat_forever(workers: Workers, consumer: Consumer, config: PresenceConfig) -> None:
    """Write ``consumer``'s entry at once and then every ``config.interval_seconds``, pruning
    forgotten entries about once a minute, until cancelled."""
    started_at = utcnow()
    pruned_at: datetime | None = None
    every = timedelta(seconds=PRUNE_EVERY_SECONDS)
    while True:
        now = utcnow()
        try:
            await workers.beat(describe(consumer, config.version, started_at, now))
            if pruned_at is None or now - pruned_at >= every:
                await workers.prune(now - timedelta(seconds=config.forget_seconds))
                pruned_at = now
        except StoreUnavailable as exc:
            log.warning("worker heartbeat skipped: %s", exc)
        await asyncio.sleep(config.interval_seconds)
