"""Operator endpoint: ``GET /queues`` (definitions and message counts).

``GET /queues`` answers every valid token with the queues it has a role on (a queue with auth
switched off counts for everyone): a writer sees the queues it may push to, a token with no
queue gets an empty list. :data:`ADMIN_ROLES` see every queue and also ``load_errors``, the
definitions that failed to load with the reason (a failed reload keeps the last good version
serving and still lists the error). Without a token the answer lists the queues with auth
switched off, or is 401 when there are none.

Each queue carries its counts by status, ``finished`` (records that reached a final status
in the last :data:`RATE_WINDOW_SECONDS`, read from the store so every consumer process's work
counts) with ``completed_per_minute``, ``live_workers`` (the live consumer processes
consuming it, from their heartbeats: ``gateway.routes.worker_list``) and ``consumers`` (from the
RabbitMQ management API when ``--rabbitmq-management-url`` is set, else null: unknown).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from aiohttp import web

from gateway.auth.bearer import Principal
from gateway.auth.queue_access import authenticate, bearer_token
from gateway.http.errors import json_response
from gateway.routes.messages import RUNTIME
from gateway.routes.spec import Doc, Route, plain, problems
from shared.domain.message import Json, Status, iso, utcnow
from shared.platform.settings import Settings
from shared.ports import QueueCounts
from shared.queues.definitions import QueueOptions
from shared.queues.registry import LoadedQueue
from shared.queues.roles import is_permitted
from shared.service.worker_list import WorkerTimes, live_per_queue, seen_workers

#: Roles that see every queue of ``GET /queues`` and the definitions that failed to load.
ADMIN_ROLES = frozenset({"system_admin", "system_reader", "queue_reader", "queue_admin"})
#: The window ``finished`` and ``completed_per_minute`` are measured over.
RATE_WINDOW_SECONDS = 300
#: The management API reader, when configured (set by the app factory).

#: One cron schedule in ``GET /queues`` (OpenAPI).
SCHEDULE_SCHEMA: dict[str, Json] = {
    "type": "object",
    "required": ["name", "cron", "timezone", "message", "next_run", "last_message_id"],
    "properties": {
        "name": {"type": "string"},
        "cron": {"type": "string", "description": "Five-field cron expression or @-macro"},
        "timezone": {"type": "string", "description": "IANA time zone of the cron fields"},
        "message": {"description": "The message pushed at every tick"},
        "next_run": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "The next tick (a tick still to be pushed, if one is overdue); "
            "null if it cannot be computed (the consumers' log says why)",
        },
        "last_message_id": {
            "type": ["string", "null"],
            "description": "Id of the message of the last tick pushed (null before the first)",
        },
    },
}
#: The body of ``GET /queues`` (OpenAPI): only what clients rely on is spelt out.
QUEUES_SCHEMA: dict[str, Json] = {
    "type": "object",
    "required": ["queues"],
    "properties": {
        "queues": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "schedules", "live_workers"],
                "properties": {
                    "name": {"type": "string"},
                    "live_workers": {
                        "type": "integer",
                        "description": "Live consumer processes consuming it (GET /workers)",
                    },
                    "schedules": {"type": "array", "items": SCHEDULE_SCHEMA},
                },
            },
        }
    },
}


def worker_times(settings: Settings) -> WorkerTimes:
    """When a consumer process is gone, and forgotten (``GET /workers``, ``live_workers``)."""
    return WorkerTimes(settings.worker_gone_seconds, settings.worker_forget_seconds)


def options_json(options: QueueOptions) -> dict[str, Json]:
    """A definition's options as JSON (``rate_limit`` as an object or null)."""
    return dataclasses.asdict(options)


def queue_summary(
    queue: LoadedQueue, counts: QueueCounts | None, schedules: list[dict[str, Json]] | None = None
) -> dict[str, Json]:
    """One queue of ``GET /queues``: its definition, its records by status and its cron
    schedules (each with ``next_run`` and ``last_message_id``)."""
    d = queue.definition
    by_status = {s.value: (counts.by_status.get(s, 0) if counts else 0) for s in Status}
    oldest = counts.oldest_pending if counts else None
    return {
        "name": d.name,
        "description": d.description,
        "auth": d.auth_enabled,
        "roles": {
            "needsRole": d.roles.needs_role,
            "replace": d.roles.replace,
            "allowed": sorted(queue.allowed_roles),
        },
        "options": options_json(d.options),
        "schema": d.schema,
        "messages": by_status,
        "oldest_pending_created_at": iso(oldest) if oldest else None,
        "schedules": schedules or [],
    }


def rate_json(finished: dict[Status, int] | None) -> dict[str, Json]:
    """``finished`` (by final status over the window) and ``completed_per_minute``."""
    found = finished or {}
    by_status = {s.value: found.get(s, 0) for s in Status if s.final}
    per_minute = found.get(Status.COMPLETE, 0) * 60 / RATE_WINDOW_SECONDS
    return {
        "finished": {"window_seconds": RATE_WINDOW_SECONDS, "by_status": by_status},
        "completed_per_minute": round(per_minute, 2),
    }


def visible(queue: LoadedQueue, principal: Principal | None) -> bool:
    """Whether the caller (None: no token) has a role on ``queue``."""
    if not queue.definition.auth_enabled:
        return True
    if principal is None:
        return False
    return is_permitted(principal.roles, queue.allowed_roles, queue.definition.roles.needs_role)


async def _caller(request: web.Request, any_open: bool) -> Principal | None:
    """The token's principal; None without a token when some queue is open (else 401)."""
    if bearer_token(request) is None and any_open:
        return None
    return await authenticate(request)


async def list_queues(request: web.Request) -> web.Response:
    """``GET /queues``: the caller's queues with counts and rates; 503 if the store is down."""
    rt = request.app[RUNTIME]
    registry = rt.registry()
    loaded = [registry.queues[n] for n in registry.names]
    principal = await _caller(request, any(not q.definition.auth_enabled for q in loaded))
    admin = principal is not None and not principal.roles.isdisjoint(ADMIN_ROLES)
    shown = loaded if admin else [q for q in loaded if visible(q, principal)]
    counts = await rt.messaging.counts()
    await rt.pauses.refresh()  # exact here; the pushes' copy is read every second
    schedules = await rt.scheduler.statuses()
    finished = await rt.messaging.finished_since(utcnow() - timedelta(seconds=RATE_WINDOW_SECONDS))
    reader = rt.consumer_counts
    consumers = await reader.get() if reader is not None else None
    live = live_per_queue(await seen_workers(rt.store, worker_times(rt.settings), utcnow()))
    queues = [
        {
            **queue_summary(q, counts.get(q.name), schedules.get(q.name)),
            **rate_json(finished.get(q.name)),
            "consumers": consumers.get(q.name) if consumers is not None else None,
            "live_workers": live[q.name],
            "pause": rt.pauses.state(q.name),
        }
        for q in shown
    ]
    body: dict[str, Json] = {"queues": queues}
    if admin:
        body["load_errors"] = list(registry.errors)
    return json_response(body)


def queues_doc(public: bool) -> Doc:
    """``GET /queues``."""
    queues = plain("Loaded queues, their definitions and message counts", problems(401, 503))
    queues["security"] = [{"bearerAuth": []}]
    queues["x-roles"] = []
    queues["description"] = (
        "Any valid token: the queues it has a role on (every queue, and the definitions that "
        f"failed to load, for {', '.join(sorted(ADMIN_ROLES))}). Without a token: the queues "
        "with auth switched off (401 when there are none)."
    )
    queues["responses"]["200"]["content"]["application/json"]["schema"] = QUEUES_SCHEMA
    return queues


ROUTES = (Route("GET", "/queues", list_queues, fixed=queues_doc),)
