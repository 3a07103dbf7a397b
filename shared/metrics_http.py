"""Serving a process's metrics over HTTP: the gateway's ``GET /metrics`` and the consumer's
own small server on ``--metrics-port``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from shared.metrics import CONTENT_TYPE
from shared.ports import StoreUnavailable
from shared.runtime import Runtime

log = logging.getLogger(__name__)


async def scrape(rt: Runtime) -> web.Response:
    """The metrics of ``rt`` in the Prometheus text format, with fresh queue depths (if the
    store does not answer, the last known depths are shown and a warning is logged)."""
    try:
        await rt.metrics.refresh_depth(rt.store, rt.registry().names)
    except StoreUnavailable as exc:
        log.warning("queue depth metrics not refreshed: %s", exc)
    return web.Response(body=rt.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


@asynccontextmanager
async def serving_metrics(rt: Runtime) -> AsyncIterator[web.AppRunner | None]:
    """Serve ``GET /metrics`` on ``--host``:``--metrics-port`` until the block exits;
    nothing (yields None) when the port is 0."""
    port = rt.settings.metrics_port
    if not port:
        yield None
        return

    async def metrics(request: web.Request) -> web.Response:
        return await scrape(rt)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, rt.settings.host, port).start()
        log.info("consumer metrics on http://%s:%s/metrics", rt.settings.host, port)
        yield runner
    finally:
        await runner.cleanup()
