"""The resources one Conveyor process shares, opened and closed in one place.

Called only from process entry points (``gateway.app``, ``consumer.main``, ``conveyor.serve``);
importing this module connects to nothing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp

from shared.adapters.inprocess.due import DueTimer
from shared.adapters.rabbitmq.management import ConsumerCounts, vhost_of
from shared.platform.clock import make_clock
from shared.platform.metrics import Metrics
from shared.platform.settings import Settings
from shared.platform.startup import open_with_retry
from shared.ports import CancelSignals, CompletionEvents, Store, WorkQueue
from shared.queues.client_tokens import TokenProvider
from shared.queues.registry import Registry, RegistryHolder, load_registry, load_services
from shared.queues.reload import QueueFollower, Reloader
from shared.runtime.wiring import make_cancel_signals, make_delivery, make_store
from shared.service import Messaging
from shared.service.announce import Announcer
from shared.service.auditing import AuditTrail
from shared.service.dispatch import Dispatcher
from shared.service.notify import Notifier
from shared.service.pausing import Pauses
from shared.service.published import PublishMarker
from shared.service.scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Open store, delivery, registry and services of one process.

    Only composition roots (``gateway.app``, ``consumer.main``, ``conveyor.serve``) read it;
    they hand each part to what needs it.
    """

    settings: Settings
    store: Store
    delivery: WorkQueue
    events: CompletionEvents
    registry: RegistryHolder
    #: The one publish-then-mark path (``shared.service.dispatch``).
    dispatch: Dispatcher
    messaging: Messaging
    http: aiohttp.ClientSession
    tokens: TokenProvider
    #: Wakes ``GET ?wait=`` clients of this process when a message finishes.
    notifier: Notifier
    #: The one way a state change wakes waiters, here and in other processes.
    announcer: Announcer
    #: Cron schedules: run by consumers (``consumer.main``), read by ``GET /queues``.
    scheduler: Scheduler
    #: The control channel: cancels of running messages, to the consumers.
    cancels: CancelSignals
    #: The operator actions' audit log (the hook operator endpoints call).
    audit: AuditTrail
    services: dict[str, Any] = field(default_factory=dict)
    #: This process's metrics (one registry per process; ``serve`` shares it).
    metrics: Metrics = field(default_factory=Metrics)
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @functools.cached_property
    def pauses(self) -> Pauses:
        """The paused queues as this process sees them (``shared.service.pausing``)."""
        return Pauses(self.store, self.dispatch, self.metrics, self.cancels)

    @functools.cached_property
    def consumer_counts(self) -> ConsumerCounts | None:
        """Consumers per queue from the RabbitMQ management API (``GET /queues``), when
        ``--rabbitmq-management-url`` is set; else None."""
        url = self.settings.rabbitmq_management_url
        if not url:
            return None
        vhost = vhost_of(self.settings.broker)
        return ConsumerCounts(url, self.http, vhost=vhost, prefix=self.settings.queue_prefix)

    def reloader(self, *, with_handlers: bool, on_queues: QueueFollower | None = None) -> Reloader:
        """A hot reloader of ``--handlers`` into this runtime's registry."""
        return Reloader(
            self.registry,
            self.delivery,
            self.settings.handlers,
            self.settings.reload_interval_seconds,
            with_handlers=with_handlers,
            on_queues=on_queues,
            on_swap=self._follow_registry,
        )

    def _follow_registry(self, registry: Registry) -> None:
        """A reload swapped ``registry`` in: build its new search indexes (if started)."""
        if self.messaging.indexes is not None:
            self.messaging.indexes.follow(registry.queues.values())


async def _open_store(settings: Settings) -> Store:
    """A new store adapter, opened (closed again if it fails to open)."""
    store = make_store(settings)
    try:
        await store.open()
    except BaseException:
        with contextlib.suppress(Exception):
            await store.close()
        raise
    return store


async def _open_delivery(
    settings: Settings, role: str, queues: list[str], store_identity: str
) -> tuple[WorkQueue, CompletionEvents]:
    """A new delivery adapter for the store ``store_identity`` with ``queues`` declared
    (closed again if that fails)."""
    delivery, events = make_delivery(settings, role, store_identity)
    try:
        await delivery.open(queues)
    except BaseException:
        with contextlib.suppress(Exception):
            await delivery.close()
        raise
    return delivery, events


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    role: str,
    with_handlers: bool,
    before_opening: Callable[[Settings, Registry], None] | None = None,
) -> AsyncIterator[Runtime]:
    """Open everything a process needs; close it in reverse order on exit.

    ``role`` (``gateway``, ``consumer``, ``serve``) names the process's broker connections.
    ``before_opening`` checks the settings against the loaded registry before anything is
    opened (a gateway's keys): a configuration error then never waits for a service.

    The store, then the delivery, are retried for ``--start-timeout-seconds``
    (``shared.platform.startup``); raises CannotStart if one cannot be opened in that time,
    or at once when the broker's queue prefix is bound to another store.
    """
    registry = RegistryHolder(load_registry(settings.handlers, with_handlers=with_handlers))
    if not registry.current.queues and not registry.current.errors:
        log.warning(
            "no queue definitions (*.queue.json) in %s: serving no queues until one is added",
            settings.handlers,
        )
    if before_opening is not None:
        before_opening(settings, registry.current)
    window = settings.start_timeout_seconds
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        store = await open_with_retry("the store", partial(_open_store, settings), window)
        stack.push_async_callback(store.close)
        names = registry.current.names
        opening = partial(_open_delivery, settings, role, names, await store.identity())
        delivery, events = await open_with_retry("the broker", opening, window)
        stack.push_async_callback(delivery.close)
        marker: PublishMarker | None = None
        if delivery.survives_restart:  # the recovery sweep needs to know what was published
            marker = PublishMarker(store)
            await marker.start()
            stack.push_async_callback(marker.stop)
        due: DueTimer | None = None
        if not delivery.survives_restart:  # delayed messages wait in the store instead
            due = DueTimer(store, delivery)
            await due.start()
            stack.push_async_callback(due.stop)
        dispatch = Dispatcher(delivery, marker.add if marker else None, due)
        notifier = Notifier()
        announcer = Announcer(notifier, events)
        cancels = make_cancel_signals(settings, delivery)
        metrics = Metrics()
        messaging = Messaging(
            registry,
            store,
            store,
            store,
            dispatch,
            notifier,
            announcer,
            cancels=cancels,
            metrics=metrics,
            search=store,
        )
        services = await load_services(settings.handlers) if with_handlers else {}
        log.info(
            "conveyor runtime open: %s; queues: %s",
            settings.describe(),
            ", ".join(registry.current.names) or "(none)",
        )
        yield Runtime(
            settings=settings,
            store=store,
            delivery=delivery,
            events=events,
            registry=registry,
            dispatch=dispatch,
            messaging=messaging,
            http=http,
            tokens=TokenProvider(settings.token_url, settings.client_secret, http),
            notifier=notifier,
            announcer=announcer,
            scheduler=Scheduler(registry, messaging, store, make_clock(settings.test_clock_file)),
            cancels=cancels,
            audit=AuditTrail(store),
            services=services,
            metrics=metrics,
            instance=f"{socket.gethostname()}:{os.getpid()}{settings.instance_suffix}",
        )
