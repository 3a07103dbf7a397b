"""Operator endpoint: ``GET /workers``, the consumer processes and whether each is live.

Read from the store's workers register (``shared.service.worker_list``), which every consumer
process writes a heartbeat to (``consumer.presence``), so it answers the same in every mode
and needs no broker management API. Only :data:`READER_ROLES` may read it: it names hosts,
pids and queues. Gateways are not listed (they consume nothing).
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.queue_access import require_roles
from gateway.http.errors import json_response
from gateway.routes.admin import ADMIN_ROLES, worker_times
from gateway.routes.messages import RUNTIME
from gateway.routes.spec import Doc, Route, plain, problems
from shared.domain.message import Json, iso, utcnow
from shared.service.worker_list import SeenWorker, seen_workers

#: The roles that may read ``GET /workers``: those that see every queue of ``GET /queues``.
READER_ROLES = ADMIN_ROLES

#: One worker of ``GET /workers`` (OpenAPI).
WORKER_SCHEMA: dict[str, Json] = {
    "type": "object",
    "required": [
        "id",
        "host",
        "pid",
        "version",
        "queues",
        "concurrency",
        "in_flight",
        "started_at",
        "last_seen_at",
        "state",
    ],
    "properties": {
        "id": {
            "type": "string",
            "description": "The id it claims messages under: an INPROGRESS record's owner",
        },
        "host": {"type": "string"},
        "pid": {"type": "integer"},
        "version": {"type": "string", "description": "The Conveyor version it runs"},
        "queues": {"type": "array", "items": {"type": "string"}},
        "concurrency": {"type": "integer", "description": "Messages run at once per queue"},
        "in_flight": {"type": "integer", "description": "Messages running at its last beat"},
        "started_at": {"type": "string", "format": "date-time"},
        "last_seen_at": {"type": "string", "format": "date-time"},
        "state": {
            "enum": ["live", "gone"],
            "description": "gone: no heartbeat for gone_after_seconds",
        },
    },
}
WORKERS_SCHEMA: dict[str, Json] = {
    "type": "object",
    "required": ["workers", "gone_after_seconds"],
    "properties": {
        "workers": {"type": "array", "items": WORKER_SCHEMA},
        "gone_after_seconds": {"type": "number"},
    },
}


def worker_json(worker: SeenWorker) -> dict[str, Json]:
    info = worker.info
    return {
        "id": info.id,
        "host": info.host,
        "pid": info.pid,
        "version": info.version,
        "queues": list(info.queues),
        "concurrency": info.concurrency,
        "in_flight": info.in_flight,
        "started_at": iso(info.started_at),
        "last_seen_at": iso(info.last_seen_at),
        "state": worker.state,
    }


async def list_workers(request: web.Request) -> web.Response:
    """``GET /workers``: every consumer process seen lately; 401/403, 503 if the store is
    down."""
    await require_roles(request, READER_ROLES, "GET /workers")
    rt = request.app[RUNTIME]
    seen = await seen_workers(rt.store, worker_times(rt.settings), utcnow())
    return json_response(
        {
            "workers": [worker_json(w) for w in seen],
            "gone_after_seconds": rt.settings.worker_gone_seconds,
        }
    )


def workers_doc(public: bool) -> Doc:
    """``GET /workers``."""
    doc = plain("Consumer processes and whether each is live", problems(401, 403, 503))
    doc["security"] = [{"bearerAuth": []}]
    doc["x-roles"] = sorted(READER_ROLES)
    doc["description"] = (
        "Every consumer process (conveyor consumer, and the consumer inside conveyor serve) "
        "whose heartbeat the store holds: live, or gone after --worker-gone-seconds without "
        "one (left out after --worker-forget-seconds). Roles: "
        f"{', '.join(sorted(READER_ROLES))}."
    )
    doc["responses"]["200"]["content"]["application/json"]["schema"] = WORKERS_SCHEMA
    return doc


ROUTES = (Route("GET", "/workers", list_workers, fixed=workers_doc),)
