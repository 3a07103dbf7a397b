"""Serving a process's metrics over HTTP: the gateway's ``GET /metrics`` and the consumer's
own small server on ``--metrics-port`` (``GET /metrics``, and ``GET /healthz`` answering 200
``{"status": "ok"}`` while the process runs: a container health check)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from shared.platform.listen import start_site
from shared.platform.metrics import CONTENT_TYPE, Metrics
from shared.platform.settings import Settings
from shared.ports import Records, StoreUnavailable
from shared.queues.registry import Registry

log = logging.getLogger(__name__)


async def scrape(metrics: Metrics, store: Records, queues: list[str]) -> web.Response:
    """``metrics`` in the Prometheus text format, with fresh depths of ``queues`` (if the
    store does not answer, the last known depths are shown and a warning is logged)."""
    try:
        await metrics.refresh_depth(store, queues)
    except StoreUnavailable as exc:
        log.warning("queue depth metrics not refreshed: %s", exc)
    return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


@asynccontextmanager
async def serving_metrics(
    metrics: Metrics, store: Records, registry: Callable[[], Registry], settings: Settings
) -> AsyncIterator[web.AppRunner | None]:
    """Serve ``GET /metrics`` and ``GET /healthz`` on ``--host``:``--metrics-port`` until the
    block exits; nothing (yields None) when the port is 0."""
    port = settings.metrics_port
    if not port:
        yield None
        return

    async def get_metrics(request: web.Request) -> web.Response:
        return await scrape(metrics, store, registry().names)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, port)
        await start_site(site, settings.host, port, "--metrics-port")
        log.info("metrics on http://%s:%s/metrics (and /healthz)", settings.host, port)
        yield runner
    finally:
        await runner.cleanup()
