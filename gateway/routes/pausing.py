"""``POST /{queue}/pause`` and ``POST /{queue}/resume``: stop and restart a queue's handlers.

Allowed roles: ``system_admin`` and ``<queue>_admin`` (as redrive; anyone on a queue with
auth switched off). Both are idempotent and answer ``200`` with
``{"queue", "paused", "paused_at", "paused_by"}`` (``paused_by``: the token subject of the
first pause; pausing a paused queue changes nothing). ``401``/``403``; ``404`` unknown
queue; ``503`` when the store is unavailable. Each call is recorded in the audit log
(``gateway.auth.operators``: ``pause``/``resume``, target null, count 0). The logic is
``shared.service.pausing``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from gateway.auth.operators import audited
from gateway.auth.queue_access import admin_roles
from gateway.http.errors import json_response
from gateway.routes.messages import RUNTIME, resolve_queue
from gateway.routes.redrive import authorize_admin
from gateway.routes.spec import Doc, Route, guarded, json_body, problems
from shared.domain.audit_entry import AuditAction
from shared.domain.message import Json
from shared.queues.registry import LoadedQueue

#: The answer of both endpoints, and a queue's ``pause`` in ``GET /queues`` (OpenAPI).
PAUSE_SCHEMA: dict[str, Json] = {
    "type": "object",
    "required": ["queue", "paused", "paused_at", "paused_by"],
    "properties": {
        "queue": {"type": "string"},
        "paused": {"type": "boolean"},
        "paused_at": {"type": ["string", "null"], "format": "date-time"},
        "paused_by": {"type": ["string", "null"], "description": "the pausing token's subject"},
    },
}


async def pause_queue(request: web.Request) -> web.Response:
    """``POST /{queue}/pause``: consumers take no new message of the queue."""
    queue = await resolve_queue(request)
    principal = await authorize_admin(request, queue)
    rt = request.app[RUNTIME]
    body = await rt.pauses.pause(queue.name, principal.subject or None)
    await audited(rt.audit, principal, AuditAction.PAUSE, queue.name, None, 0)
    return json_response(body)


async def resume_queue(request: web.Request) -> web.Response:
    """``POST /{queue}/resume``: the queue runs again, its parked messages first delivered."""
    queue = await resolve_queue(request)
    principal = await authorize_admin(request, queue)
    rt = request.app[RUNTIME]
    body = await rt.pauses.resume(queue.name)
    await audited(rt.audit, principal, AuditAction.RESUME, queue.name, None, 0)
    return json_response(body)


def _doc(op_id: str, summary: str) -> Callable[[LoadedQueue], Doc]:
    def doc(queue: LoadedQueue) -> Doc:
        answer = {"200": {"description": "OK", "content": json_body(PAUSE_SCHEMA)}}
        responses = {**answer, **problems(404, 503)}
        admins = sorted(admin_roles(queue.name))
        return guarded(queue, op_id, summary.format(queue=queue.name), responses, admins)

    return doc


ROUTES = (
    Route(
        "POST",
        "/{queue}/pause",
        pause_queue,
        per_queue=_doc("pause", "Pause {queue}: consumers take no new message"),
    ),
    Route(
        "POST",
        "/{queue}/resume",
        resume_queue,
        per_queue=_doc("resume", "Resume {queue}: its parked messages run"),
    ),
)
