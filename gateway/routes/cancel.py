"""``POST /{queue}/{id}/cancel``: cancel a message (same roles as ``DELETE``).

Answers: ``200`` with the ``CANCELLED`` record when it was waiting (``PENDING``, delayed,
or waiting for a retry: it never runs); ``202`` with the ``INPROGRESS`` record and
``cancel_requested: true`` when it was running (its handler is asked to stop; the record
ends ``CANCELLED``); ``404`` unknown; ``409`` already final (``COMPLETE``, ``ERROR``,
``CANCELLED``); ``503`` store unavailable. The logic is the messaging service's
(``Messaging.cancel``). A cancel by an admin of the queue is recorded in the audit log
(``gateway.auth.operators``).
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.operators import administers, audited
from gateway.auth.queue_access import authorize
from gateway.auth.record_view import record_view
from gateway.http.errors import json_response
from gateway.routes.messages import RUNTIME, location, resolve_queue
from gateway.routes.spec import Doc, Route, guarded, problems, record_answer
from shared.domain.audit_entry import AuditAction
from shared.queues.registry import LoadedQueue


async def cancel_message(request: web.Request) -> web.Response:
    """``POST /{queue}/{id}/cancel``: 200 cancelled, or 202 asked to stop."""
    queue = await resolve_queue(request)
    principal = await authorize(request, queue)
    rt = request.app[RUNTIME]
    done = await rt.messaging.cancel(queue, request.match_info["id"])
    if administers(principal, queue.name):
        await audited(rt.audit, principal, AuditAction.CANCEL, queue.name, done.record.id, 1)
    return json_response(
        record_view(queue, principal)(done.record),
        status=202 if done.requested else 200,
        headers={"Location": location(queue.name, done.record.id)},
    )


def cancel_doc(queue: LoadedQueue) -> Doc:
    """``POST /{queue}/{id}/cancel``."""
    cancelled = {**record_answer(200), **record_answer(202), **problems(404, 409, 503)}
    return guarded(queue, "cancel", f"Cancel a message of {queue.name}", cancelled)


ROUTES = (Route("POST", "/{queue}/{id}/cancel", cancel_message, per_queue=cancel_doc),)
