"""Request ids and request metrics: the gateway's outermost middleware.

Every request gets an id: the client's ``X-Request-Id`` when it is sane (1-128 visible ASCII
characters), else a fresh one. It is answered in the ``X-Request-Id`` response header (errors
included), kept on the record a push creates, and follows the message into the handler's
logger and ``ctx.request_id``. Push answers and authentication failures are counted in the
process's :class:`shared.metrics.Metrics`.
"""

from __future__ import annotations

from aiohttp import web

from gateway.errors import Handler
from gateway.request_ids import REQUEST_ID, REQUEST_ID_HEADER, request_id_for
from gateway.views import RUNTIME


def _auth_failure(response: web.StreamResponse) -> str | None:
    if response.status == 403:
        return "forbidden"
    if response.status == 401:
        challenge = response.headers.get("WWW-Authenticate", "")
        return "invalid_token" if "invalid_token" in challenge else "missing_token"
    return None


def _count(request: web.Request, response: web.StreamResponse) -> None:
    rt = request.app[RUNTIME]
    reason = _auth_failure(response)
    if reason is not None:
        rt.metrics.auth_failed(reason)
    resource = request.match_info.route.resource
    if request.method == "POST" and resource is not None and resource.canonical == "/{queue}":
        queue = request.match_info.get("queue", "")
        if rt.registry().get(queue) is not None:  # unknown names would explode the labels
            rt.metrics.pushed(queue, response.status)


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign the request id, answer it as a header, count pushes and auth failures."""
    request[REQUEST_ID] = request_id_for(request)
    response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = request[REQUEST_ID]
    _count(request, response)
    return response
