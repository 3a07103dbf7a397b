"""The resources one Conveyor process shares, opened and closed in one place.

Called only from process entry points (``gateway.app``, ``consumer.main``, ``conveyor.serve``);
importing this module connects to nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from shared.adapters import make_delivery, make_store
from shared.client_auth import TokenProvider
from shared.messaging import Messaging
from shared.metrics import Metrics
from shared.notify import Notifier
from shared.ports import Delivery, Store
from shared.published import PublishMarker
from shared.registry import Registry, load_registry, load_services
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class RegistryHolder:
    """The current registry; replaced as a whole on reload."""

    current: Registry

    def __call__(self) -> Registry:
        return self.current


@dataclass
class Runtime:
    """Open store, delivery, registry and helpers of one process."""

    settings: Settings
    store: Store
    delivery: Delivery
    registry: RegistryHolder
    messaging: Messaging
    http: aiohttp.ClientSession
    tokens: TokenProvider
    services: dict[str, Any] = field(default_factory=dict)
    #: This process's metrics (one registry per process; ``serve`` shares it).
    metrics: Metrics = field(default_factory=Metrics)
    #: Wakes ``GET ?wait=`` clients of this process when a message finishes.
    notifier: Notifier = field(default_factory=Notifier)
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @property
    def embedded_delivery(self) -> bool:
        """True when delivery is in-process (no broker)."""
        return self.settings.broker is None


@asynccontextmanager
async def open_runtime(settings: Settings, *, with_handlers: bool) -> AsyncIterator[Runtime]:
    """Open everything a process needs; close it in reverse order on exit.

    Raises StoreUnavailable / DeliveryUnavailable if a service cannot be reached.
    """
    registry = RegistryHolder(load_registry(settings.handlers, with_handlers=with_handlers))
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        store = make_store(settings)
        await store.open()
        stack.push_async_callback(store.close)
        delivery = make_delivery(settings)
        await delivery.open(registry.current.names)
        stack.push_async_callback(delivery.close)
        marker: PublishMarker | None = None
        if settings.broker is not None:
            marker = PublishMarker(store)
            await marker.start()
            stack.push_async_callback(marker.stop)
        messaging = Messaging(registry, store, delivery, marker.add if marker else None)
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
            registry=registry,
            messaging=messaging,
            http=http,
            tokens=TokenProvider(settings.token_url, settings.client_secret, http),
            services=services,
        )
