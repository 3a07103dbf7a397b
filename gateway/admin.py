"""Operator endpoints: ``GET /queues`` (definitions and message counts) and ``GET /metrics``.

``/queues`` needs a token with one of :data:`ADMIN_ROLES` (401/403 as on the queues);
``/metrics`` is open, like a Prometheus scrape target usually is.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from gateway.errors import json_response
from gateway.security import require_roles
from gateway.views import RUNTIME
from shared.definitions import QueueOptions
from shared.metrics_http import scrape
from shared.ports import QueueCounts
from shared.records import Json, Status, iso
from shared.registry import LoadedQueue

#: Roles that may read ``GET /queues``.
ADMIN_ROLES = frozenset({"system_admin", "system_reader", "queue_reader", "queue_admin"})

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
            "type": "string",
            "format": "date-time",
            "description": "The next tick (a tick still to be pushed, if one is overdue)",
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
                "required": ["name", "schedules"],
                "properties": {
                    "name": {"type": "string"},
                    "schedules": {"type": "array", "items": SCHEDULE_SCHEMA},
                },
            },
        }
    },
}


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


async def list_queues(request: web.Request) -> web.Response:
    """``GET /queues``: every loaded queue's summary and counts; 503 if the store is down."""
    await require_roles(request, ADMIN_ROLES, "GET /queues")
    rt = request.app[RUNTIME]
    counts = await rt.messaging.counts()
    schedules = await rt.scheduler.statuses()
    registry = rt.registry()
    queues = [
        queue_summary(registry.queues[n], counts.get(n), schedules.get(n)) for n in registry.names
    ]
    return json_response({"queues": queues})


async def get_metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: this process's metrics in the Prometheus text format."""
    rt = request.app[RUNTIME]
    return await scrape(rt.metrics, rt.store, rt.registry().names)


def add_admin_routes(app: web.Application, *, metrics: bool = True) -> None:
    """Register ``GET /queues`` and, unless served on ``--metrics-port``, ``GET /metrics``."""
    app.router.add_get("/queues", list_queues)
    if metrics:
        app.router.add_get("/metrics", get_metrics)
