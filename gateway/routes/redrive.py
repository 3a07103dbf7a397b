"""``POST /{queue}/{id}/retry``: redrive an ``ERROR`` message (a new run from scratch).

Allowed roles: ``system_admin`` and ``<queue>_admin`` only (not the writer roles, nor the
definition's ``roles``, nor ``needsRole: false``); on a queue with auth switched off anyone
may. Answers: ``200`` with the ``PENDING`` record; ``401``/``403``; ``404`` unknown queue or
message; ``409`` when the message is not ``ERROR``; ``503`` when the store is unavailable.

Dead-lettered messages (``ERROR``, ``DeliveryLimitExceeded``) are redriven the same way: the
store record is the source of truth; the copy left in the ``.dead`` queue stays as history.

``attempts`` restarts at 0: a redrive is a new run that gets the queue's ``max_attempts``
again, and ``ctx.attempt`` is 1 on its first attempt. The record is marked unpublished
before it is handed to the delivery channel, so if that publish fails the recovery sweep
still delivers it (the answer is 200 either way: the message will run). The logic is the
messaging service's (``Messaging.redrive``); this module is the route and its roles. Each
redrive is recorded in the audit log (``gateway.auth.operators``).
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.bearer import Principal
from gateway.auth.operators import audited
from gateway.auth.queue_access import ANONYMOUS, admin_roles, require_roles
from gateway.auth.record_view import record_view
from gateway.http.errors import json_response
from gateway.routes.messages import RUNTIME, resolve_queue
from gateway.routes.spec import Doc, Route, guarded, problems, record_answer
from shared.domain.audit_entry import AuditAction
from shared.queues.registry import LoadedQueue


async def authorize_admin(request: web.Request, queue: LoadedQueue) -> Principal:
    """The caller's principal; raises 401/403 unless it may redrive (or run bulk actions on)
    ``queue`` (:func:`gateway.auth.queue_access.admin_roles`)."""
    if not queue.definition.auth_enabled:
        return ANONYMOUS
    return await require_roles(request, admin_roles(queue.name), "redrive")


async def redrive_message(request: web.Request) -> web.Response:
    """``POST /{queue}/{id}/retry``: the ERROR message back to PENDING and delivered."""
    queue = await resolve_queue(request)
    principal = await authorize_admin(request, queue)
    rt = request.app[RUNTIME]
    record = await rt.messaging.redrive(queue, request.match_info["id"])
    await audited(rt.audit, principal, AuditAction.REDRIVE, queue.name, record.id, 1)
    return json_response(record_view(queue, principal)(record))


def redrive_doc(queue: LoadedQueue) -> Doc:
    """``POST /{queue}/{id}/retry``."""
    redriven = {**record_answer(200), **problems(404, 409, 503)}
    admins = sorted(admin_roles(queue.name))
    summary = f"Run an ERROR message of {queue.name} again"
    return guarded(queue, "redrive", summary, redriven, admins)


ROUTES = (Route("POST", "/{queue}/{id}/retry", redrive_message, per_queue=redrive_doc),)
