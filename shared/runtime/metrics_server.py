"""Serving a process's metrics over HTTP: the gateway's ``GET /metrics`` and every process's
own small server on ``--metrics-port``.

The metrics port is meant for the operators' network only (Prometheus, health checks): it
answers everyone with everything. ``GET /metrics`` every series; ``GET /healthz`` 200
``{"status": "ok"}`` while the process runs; ``GET /readyz`` 200
``{"status": "ready", "queues": [...]}`` while store and delivery answer, else a 503 problem
document naming each failing part and why (``shared.runtime.readiness``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from shared.platform.listen import check_listen, start_site
from shared.platform.metrics import CONTENT_TYPE, Metrics
from shared.platform.problems import PROBLEM_JSON, problem
from shared.platform.settings import Settings
from shared.ports import Records, StoreUnavailable
from shared.runtime.readiness import failures
from shared.runtime.resources import Runtime

log = logging.getLogger(__name__)

#: Seconds a 503 of ``/readyz`` asks a client to wait (as the API's 503s do).
RETRY_AFTER_SECONDS = "1"


async def scrape(metrics: Metrics, store: Records, queues: list[str] | None) -> web.Response:
    """``metrics`` in the Prometheus text format, with fresh depths of ``queues`` (if the
    store does not answer, the last known depths are shown and a warning is logged);
    ``queues=None``: without any series labelled by queue (and no store read)."""
    if queues is None:
        body = metrics.exposition(with_queues=False)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
    try:
        await metrics.refresh_depth(store, queues)
    except StoreUnavailable as exc:
        log.warning("queue depth metrics not refreshed: %s", exc)
    return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


def metrics_app(rt: Runtime) -> web.Application:
    """The metrics port's application (see the module docstring)."""

    async def get_metrics(request: web.Request) -> web.Response:
        return await scrape(rt.metrics, rt.store, rt.registry().names)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        failed = await failures(rt.store, rt.delivery)
        if failed:
            return web.json_response(
                problem(503, [f.detail for f in failed]),
                status=503,
                content_type=PROBLEM_JSON,
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        return web.json_response({"status": "ready", "queues": rt.registry().names})

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


def check_ports(settings: Settings, *, http: bool) -> None:
    """Check that ``--port`` (``http``: a gateway or serve) and ``--metrics-port`` (if set)
    can be listened on, before the process opens anything (raises CannotStart): a process
    that cannot serve leaves no queue declared and no database or secret created."""
    if http:
        shared = settings.child_index is not None  # --processes children share the port
        check_listen(settings.host, settings.port, "--port", reuse_port=shared)
    check_listen(settings.host, settings.metrics_port, "--metrics-port")


@asynccontextmanager
async def serving_metrics(rt: Runtime) -> AsyncIterator[web.AppRunner | None]:
    """Serve :func:`metrics_app` on ``--host``:``--metrics-port`` until the block exits;
    nothing (yields None) when the port is 0."""
    settings = rt.settings
    port = settings.metrics_port
    if not port:
        yield None
        return
    runner = web.AppRunner(metrics_app(rt), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, port)
        await start_site(site, settings.host, port, "--metrics-port")
        log.info("metrics on http://%s:%s/metrics (and /healthz, /readyz)", settings.host, port)
        yield runner
    finally:
        await runner.cleanup()
