"""Composition root of the consumer daemon (``conveyor consumer``) and the consumer half of
``conveyor serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from consumer.completion import sweep_expired_forever
from consumer.recovery import recover_at_start, sweep_forever
from consumer.worker import Consumer
from shared.metrics_http import serving_metrics
from shared.reload import running_reloader
from shared.runtime import Runtime, open_runtime
from shared.settings import Settings
from shared.signals import wait_for_stop_signal

log = logging.getLogger(__name__)


def selected_queues(rt: Runtime) -> list[str]:
    """The queues this consumer serves: ``--queues`` (if set) among those that loaded."""
    loaded = rt.registry().names
    wanted = rt.settings.queues
    if not wanted:
        return loaded
    missing = sorted(set(wanted) - set(loaded))
    if missing:
        log.error("--queues names queues that are not loaded: %s", ", ".join(missing))
    return [name for name in loaded if name in wanted]


@asynccontextmanager
async def running_consumer(rt: Runtime) -> AsyncIterator[Consumer]:
    """Recover, start consuming and sweeping; on exit, the documented shutdown sequence."""
    queues = selected_queues(rt)
    await recover_at_start(rt)
    consumer = Consumer(rt, queues)
    await consumer.start()
    sweeper: asyncio.Task[None] | None = None
    if not rt.embedded_delivery:
        sweeper = asyncio.create_task(sweep_forever(rt, consumer.consumed), name="sweep")
    expiry = asyncio.create_task(sweep_expired_forever(rt), name="expiry-sweep")
    try:
        yield consumer
    finally:
        expiry.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await expiry
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await consumer.shutdown(rt.settings.grace_seconds)


async def run_consumer(settings: Settings) -> None:
    """Run the consumer daemon until SIGTERM/SIGINT, then shut down cleanly."""
    async with (
        open_runtime(settings, with_handlers=True) as rt,
        running_consumer(rt) as consumer,
        serving_metrics(rt),
        running_reloader(rt, with_handlers=True, on_queues=consumer.follow) as reloader,
    ):
        await wait_for_stop_signal(on_reload=reloader.request)
        log.info("stop signal received; shutting down consumer")
