"""Probes and metrics on the API port: ``GET /healthz``, ``GET /readyz``, ``GET /metrics``.

They need no token, and without one they reveal no queue name: ``/readyz`` answers
``{"status": "ready"}`` or a 503 naming only the failing parts (``store unavailable``),
``/metrics`` only the series without a ``queue`` label. A valid token holding one of
:data:`gateway.routes.admin.ADMIN_ROLES` also gets the queues, the reasons of the failing parts and
every series. A token that does not verify (expired, bad signature, malformed header, key
set unavailable) counts as no token, never as an error: a probe must not fail because of a
stale header. ``--metrics-port`` serves everything to everyone (``shared.runtime.metrics_server``).
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.queue_access import authenticate
from gateway.draining import DRAIN
from gateway.http.errors import ApiError, json_response
from gateway.routes.admin import ADMIN_ROLES
from gateway.routes.messages import RUNTIME
from gateway.routes.spec import Doc, Route, plain, problems
from shared.platform.settings import Settings
from shared.runtime.metrics_server import scrape
from shared.runtime.readiness import failures


async def sees_queues(request: web.Request) -> bool:
    """Whether the request carries a valid token with one of :data:`ADMIN_ROLES`; any
    token that does not verify counts as none."""
    try:
        principal = await authenticate(request)
    except ApiError:
        return False
    return not principal.roles.isdisjoint(ADMIN_ROLES)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: store and delivery both answer; 503 listing what does not (see the
    module docstring for who learns what)."""
    rt = request.app[RUNTIME]
    if request.app[DRAIN].draining:
        raise ApiError(503, "shutting down")
    failed = await failures(rt.store, rt.delivery)
    insider = await sees_queues(request)
    if failed:
        raise ApiError(503, *(f.detail if insider else f.summary for f in failed))
    if not insider:
        return json_response({"status": "ready"})
    return json_response({"status": "ready", "queues": rt.registry().names})


async def get_metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: this process's metrics in the Prometheus text format (without the
    series labelled by queue for a caller who may not see queues)."""
    rt = request.app[RUNTIME]
    if await sees_queues(request):
        return await scrape(rt.metrics, rt.store, rt.registry().names)
    return await scrape(rt.metrics, rt.store, None)


def _health_doc(public: bool) -> Doc:
    return plain("Liveness", {})


def _ready_doc(public: bool) -> Doc:
    return plain("Readiness: store and delivery answer", problems(503))


def _metrics_doc(public: bool) -> Doc:
    return plain("Prometheus metrics", {}, "text/plain")


def _metrics_here(settings: Settings) -> bool:
    return not settings.metrics_port  # else served on --metrics-port only


ROUTES = (
    Route("GET", "/healthz", healthz, fixed=_health_doc),
    Route("GET", "/readyz", readyz, fixed=_ready_doc),
    Route("GET", "/metrics", get_metrics, fixed=_metrics_doc, enabled=_metrics_here),
)
