"""Composition root of the consumer daemon (``conveyor consumer``) and the consumer half of
``conveyor serve``: the only place that hands the runtime's parts to the consumer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from consumer.completion import sweep_expired_forever
from consumer.presence import PresenceConfig, beat_forever
from consumer.recovery import SweepPolicy, recover_at_start, sweep_forever
from consumer.run_counts import RollupCounter, flush_rollups_forever
from consumer.worker import Consumer, ConsumerConfig, ConsumerPorts, ContextMaker
from conveyor.context import Context, ProgressFn
from conveyor.messaging import HandlerMessaging
from shared.domain.message import MessageRecord
from shared.platform.settings import Settings
from shared.platform.signals import wait_for_stop_signal
from shared.platform.tasks import cancel_and_wait
from shared.platform.version import installed_version
from shared.queues.client_tokens import QueueClientAuth
from shared.queues.registry import LoadedQueue
from shared.queues.reload import running_reloader
from shared.runtime.metrics_server import check_ports, serving_metrics
from shared.runtime.resources import Runtime, open_runtime

log = logging.getLogger(__name__)


def selected_queues(loaded: list[str], wanted: tuple[str, ...]) -> list[str]:
    """The queues a consumer serves: ``wanted`` (``--queues``, if set) among ``loaded``."""
    if not wanted:
        return loaded
    missing = sorted(set(wanted) - set(loaded))
    if missing:
        log.error("--queues names queues that are not loaded: %s", ", ".join(missing))
    return [name for name in loaded if name in wanted]


def context_maker(rt: Runtime) -> ContextMaker:
    """Builds each run's ``ctx`` from the process's shared services."""
    messaging = HandlerMessaging(rt.messaging, rt.scheduler)

    def make(
        queue: LoadedQueue,
        record: MessageRecord,
        bound: logging.LoggerAdapter[logging.Logger],
        progress: ProgressFn,
    ) -> Context:
        return Context(
            progress=progress,
            id=record.id,
            queue=record.queue,
            attempt=record.attempts,
            log=bound,
            messaging=messaging,
            http=rt.http,
            services=rt.services,
            auth=QueueClientAuth(rt.tokens, queue.definition.client_id),
            request_id=record.request_id,
        )

    return make


def build_consumer(rt: Runtime, rollups: RollupCounter | None = None) -> Consumer:
    """A consumer over ``rt``'s parts, for the queues ``--queues`` selects, counting its
    finished runs in ``rollups`` (None: not counted)."""
    settings = rt.settings
    ports = ConsumerPorts(
        work=rt.delivery,
        claims=rt.store,
        dispatch=rt.dispatch,
        announce=rt.announcer,
        registry=rt.registry,
        contexts=context_maker(rt),
        metrics=rt.metrics,
        progress=rt.store,
        cancels=rt.cancels,
        rollups=rollups,
        pauses=rt.pauses,
    )
    config = ConsumerConfig(
        concurrency=settings.concurrency,
        lease_seconds=settings.lease_seconds,
        only=tuple(settings.queues),
        instance=rt.instance,
    )
    return Consumer(ports, config, selected_queues(rt.registry().names, config.only))


def sweep_policy(settings: Settings) -> SweepPolicy:
    """The recovery sweep's timings and limits."""
    return SweepPolicy(
        republish_after_seconds=settings.republish_after_seconds,
        lease_seconds=settings.lease_seconds,
        delivery_limit=settings.delivery_limit,
        interval_seconds=settings.sweep_interval_seconds,
        redeliver_after_seconds=settings.redeliver_after_seconds,
    )


def presence_config(settings: Settings) -> PresenceConfig:
    """The heartbeat's timings, and the version it reports."""
    return PresenceConfig(
        interval_seconds=settings.worker_heartbeat_seconds,
        forget_seconds=settings.worker_forget_seconds,
        version=installed_version(),
    )


@asynccontextmanager
async def running_consumer(rt: Runtime) -> AsyncIterator[Consumer]:
    """Recover, start consuming, sweeping and the heartbeat (``consumer.presence``); on
    exit, the documented shutdown sequence."""
    await recover_at_start(rt.store, rt.delivery, rt.dispatch)
    # The pauses are read before the first delivery, then every second.
    async with rt.pauses.watching(), _consuming(rt) as consumer:
        yield consumer


@asynccontextmanager
async def _consuming(rt: Runtime) -> AsyncIterator[Consumer]:
    rollups = RollupCounter()
    consumer = build_consumer(rt, rollups)
    await consumer.start()
    flusher = asyncio.create_task(
        flush_rollups_forever(rollups, rt.store, rt.settings.rollup_flush_seconds),
        name="rollups",
    )
    sweeper: asyncio.Task[None] | None = None
    if rt.delivery.survives_restart:  # else start-up recovery covers everything
        sweeper = asyncio.create_task(
            sweep_forever(
                rt.store, rt.dispatch, rt.metrics, sweep_policy(rt.settings), consumer.consumed
            ),
            name="sweep",
        )
    retention = timedelta(days=rt.settings.audit_retention_days)
    expiry = asyncio.create_task(
        sweep_expired_forever(rt.store, rt.audit, retention), name="expiry-sweep"
    )
    # Every consumer runs the cron schedules; the store makes it one push per tick.
    scheduler = asyncio.create_task(rt.scheduler.run(), name="scheduler")
    heartbeat = asyncio.create_task(
        beat_forever(rt.store, consumer, presence_config(rt.settings)), name="worker-heartbeat"
    )
    try:
        yield consumer
    finally:
        for task in (scheduler, expiry, sweeper):  # bounded: a stuck one is logged, left
            await cancel_and_wait(task)
        await consumer.shutdown(rt.settings.grace_seconds)
        await cancel_and_wait(flusher)  # after the last runs ended: it flushes them once more
        await cancel_and_wait(heartbeat)  # last: it is live while its handlers finish


async def run_consumer(settings: Settings) -> None:
    """Run the consumer daemon until SIGTERM/SIGINT, then shut down cleanly (its metrics
    port checked before anything is opened or declared)."""
    check_ports(settings, http=False)
    async with (
        open_runtime(settings, role="consumer", with_handlers=True) as rt,
        running_consumer(rt) as consumer,
        serving_metrics(rt),
        running_reloader(rt.reloader(with_handlers=True, on_queues=consumer.follow)) as reloader,
    ):
        await wait_for_stop_signal(on_reload=reloader.request)
        log.info("stop signal received; shutting down consumer")
