"""Request ids and request metrics: the gateway's outermost middleware.

Every request gets an id: the client's ``X-Request-Id`` when it is sane (1-128 visible ASCII
characters), else a fresh one. It is answered in the ``X-Request-Id`` response header (errors
included), kept on the record a push creates, and follows the message into the handler's
logger and ``ctx.request_id``. Every request's duration is observed by route template,
method and status code; push answers and authentication failures are counted too (all in the
process's :class:`shared.platform.metrics.Metrics`), and, unless ``--no-access-log``, logged as one
INFO line on ``conveyor.access``: method, route template, status, duration, request id and
the request's path (its control characters escaped by the log format, ``shared.platform.logs``). A
client that left before its answer is counted and logged with status ``499``
(``gateway.http.errors``).
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from gateway.http.errors import Handler
from gateway.http.request_ids import REQUEST_ID, REQUEST_ID_HEADER, request_id_for
from gateway.routes.messages import RUNTIME
from shared.platform.metrics import UNMATCHED

access_log = logging.getLogger("conveyor.access")


def _auth_failure(response: web.StreamResponse) -> str | None:
    if response.status == 403:
        return "forbidden"
    if response.status == 401:
        challenge = response.headers.get("WWW-Authenticate", "")
        return "invalid_token" if "invalid_token" in challenge else "missing_token"
    return None


def route_of(request: web.Request) -> str:
    """The path template the request matched (``/{queue}/{id}``), or ``unmatched``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def _record(request: web.Request, response: web.StreamResponse, seconds: float) -> None:
    rt = request.app[RUNTIME]
    route = route_of(request)
    rt.metrics.requested(route, request.method, response.status, seconds)
    if rt.settings.access_log:
        fields = {
            "method": request.method,
            "route": route,
            "status": response.status,
            "duration_ms": round(seconds * 1000, 3),
            "request_id": request[REQUEST_ID],
            "path": request.path,
        }
        line = (
            "%(method)s %(route)s %(status)d %(duration_ms).1fms request_id=%(request_id)s "
            "path=%(path)s"
        )
        access_log.info(line, fields, extra=fields)
    reason = _auth_failure(response)
    if reason is not None:
        rt.metrics.auth_failed(reason)
    if request.method == "POST" and route == "/{queue}":
        queue = request.match_info.get("queue", "")
        if rt.registry().get(queue) is not None:  # unknown names would explode the labels
            rt.metrics.pushed(queue, response.status)


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign the request id, answer it as a header, time the request, count pushes and
    auth failures."""
    started = time.perf_counter()
    request[REQUEST_ID] = request_id_for(request)
    response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    _record(request, response, time.perf_counter() - started)
    return response
