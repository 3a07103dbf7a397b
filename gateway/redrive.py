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
still delivers it (the answer is 200 either way: the message will run).
"""

from __future__ import annotations

import contextlib
import logging

from aiohttp import web

from gateway.errors import ApiError, json_response
from gateway.security import require_roles
from gateway.views import RUNTIME
from shared.ports import DeliveryUnavailable, MessageRef, StoreUnavailable
from shared.records import MessageRecord
from shared.registry import LoadedQueue
from shared.roles import SYSTEM_ADMIN

log = logging.getLogger(__name__)


def redrive_roles(queue: str) -> frozenset[str]:
    """The roles that may redrive messages of ``queue``."""
    return frozenset({SYSTEM_ADMIN, f"{queue}_admin"})


async def _authorize_admin(request: web.Request, queue: LoadedQueue) -> None:
    if not queue.definition.auth_enabled:
        return
    await require_roles(request, redrive_roles(queue.name), "redrive")


async def _redrive(request: web.Request, queue: str, message_id: str) -> MessageRecord:
    store = request.app[RUNTIME].store
    try:
        record = await store.redrive(queue, message_id)
        if record is not None:
            return record
        existing = await store.get(queue, message_id)
    except StoreUnavailable as exc:
        raise ApiError(503, f"store: {exc}", headers={"Retry-After": "1"}) from None
    if existing is None:
        raise ApiError(404, f"no message {message_id} on queue {queue}")
    raise ApiError(
        409, f"message {message_id} is {existing.status.value}; only ERROR messages can be retried"
    )


async def redrive_message(request: web.Request) -> web.Response:
    """``POST /{queue}/{id}/retry``: the ERROR message back to PENDING and delivered."""
    rt = request.app[RUNTIME]
    name, message_id = request.match_info["queue"], request.match_info["id"]
    queue = rt.registry().get(name)
    if queue is None:
        raise ApiError(404, f"unknown queue {name!r}")
    await _authorize_admin(request, queue)
    record = await _redrive(request, queue.name, message_id)
    try:
        await rt.delivery.publish(queue.name, message_id)
    except DeliveryUnavailable as exc:
        log.warning("redriven %s on %s not published (%s); the sweep will", message_id, name, exc)
    else:
        with contextlib.suppress(StoreUnavailable):
            await rt.store.mark_published([MessageRef(queue.name, message_id)])
    log.info("message %s on %s redriven", message_id, queue.name)
    return json_response(record.to_public())


def add_redrive_routes(app: web.Application) -> None:
    """Register ``POST /{queue}/{id}/retry``."""
    app.router.add_post("/{queue}/{id}/retry", redrive_message)
