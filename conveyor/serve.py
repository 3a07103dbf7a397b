"""``conveyor serve``: gateway and consumer in one process (the embedded mode).

Shutdown order on SIGTERM/SIGINT: stop accepting HTTP, then the consumer's shutdown
sequence (in-flight handlers get the grace period), then delivery and store close.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from consumer.main import running_consumer
from consumer.worker import Consumer
from gateway.app import serving_http
from shared.platform.settings import Settings, SettingsError
from shared.platform.signals import wait_for_stop_signal
from shared.queues.reload import Reloader, running_reloader
from shared.runtime.metrics_server import check_ports, serving_metrics
from shared.runtime.resources import Runtime, open_runtime

log = logging.getLogger(__name__)


def generated_secret(path: Path, *, create: bool = True) -> str:
    """The HS256 secret kept at ``path`` (mode 0600), created on first use unless ``create``
    is False (``conveyor token`` without ``--create-secret``: SettingsError naming ``path``)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        if not create:
            raise SettingsError(
                f"no token signing secret at {path}: `conveyor serve` creates it there (beside "
                "the --store database) on its first start, so start serve first or run this "
                "where it runs; or pass --jwt-secret (CONVEYOR_JWT_SECRET); or --create-secret "
                "to create it now"
            ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
    log.warning("generated a token signing secret in %s", path)
    return secret


def with_signing_key(settings: Settings, *, create: bool = True) -> Settings:
    """``settings`` with the generated secret when no key is configured (serve/token only);
    ``create`` False: only an existing one (see :func:`generated_secret`)."""
    if settings.has_keys:
        return settings
    secret = generated_secret(settings.secret_file, create=create)
    return dataclasses.replace(settings, jwt_secret=secret)


@dataclass
class Served:
    """A running all-in-one Conveyor."""

    runtime: Runtime
    consumer: Consumer
    http: web.AppRunner
    reloader: Reloader

    @property
    def url(self) -> str:
        host, port = self.http.addresses[0][:2]
        return f"http://{host}:{port}"


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    """Gateway + consumer over one runtime until the block exits."""
    async with (
        open_runtime(settings, role="serve", with_handlers=True) as rt,
        running_consumer(rt) as consumer,
        serving_http(rt) as http,
        serving_metrics(rt),
        running_reloader(rt.reloader(with_handlers=True, on_queues=consumer.follow)) as reloader,
    ):
        yield Served(rt, consumer, http, reloader)


async def run_serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT. The ports are checked first: a serve that cannot listen
    creates no secret and no database."""
    check_ports(settings, http=True)
    settings = with_signing_key(settings)
    async with serving(settings) as served:
        if not settings.jwt_public_key and not settings.jwks_url:
            log.info("mint a token with: conveyor token --sub me --roles system_admin")
        log.info("conveyor is ready at %s", served.url)
        await wait_for_stop_signal(on_reload=served.reloader.request)
        log.info("stop signal received; shutting down")
