"""Declaring an endpoint once: its route and its OpenAPI operation, side by side.

Each module of ``gateway.routes`` exports ``ROUTES``, its :class:`Route` entries: method,
path, handler and the function that writes the endpoint's OpenAPI operation. The gateway
registers them in the order of ``gateway.routes.ROUTES`` (:func:`register`), and
``gateway.routes.openapi`` assembles the document from the same entries, so an endpoint
cannot be served undocumented or documented unserved. The rest of this module is the
vocabulary those operations share: the record and problem schemas, the answers' reasons and
the helpers that build an operation with a queue's security.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from shared.domain.message import HISTORY_LIMIT, Status
from shared.platform.problems import PROBLEM_JSON
from shared.platform.settings import Settings
from shared.queues.registry import LoadedQueue

Doc = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: where it is served and how the OpenAPI document describes it."""

    method: str
    path: str
    handler: Handler
    #: The operation for one queue, for a path under ``/{queue}`` (None: undocumented).
    per_queue: Callable[[LoadedQueue], Doc] | None = None
    #: The operation of a fixed path, given whether ``/openapi.json`` is public.
    fixed: Callable[[bool], Doc] | None = None
    #: Served only where this says so (e.g. ``/metrics`` unless ``--metrics-port``).
    enabled: Callable[[Settings], bool] | None = None
    allow_head: bool = True


#: The routes an application serves, in registration order (for ``/openapi.json``).
ROUTE_TABLE: web.AppKey[tuple[Route, ...]] = web.AppKey("routes")


def register(app: web.Application, routes: Sequence[Route], settings: Settings) -> None:
    """Add ``routes`` to ``app`` in order (the first match wins), those enabled by
    ``settings``, and keep them for the document."""
    served = tuple(r for r in routes if r.enabled is None or r.enabled(settings))
    for route in served:
        if route.method == "GET":
            app.router.add_get(route.path, route.handler, allow_head=route.allow_head)
        else:
            app.router.add_route(route.method, route.path, route.handler)
    app[ROUTE_TABLE] = served


REASONS = {
    200: "OK",
    201: "Created: the PENDING record",
    202: "Running: asked to stop (cancel_requested true); it ends CANCELLED",
    204: "Deleted",
    409: "Conflict (idempotency key in use or its message deleted; not an ERROR message;"
    " a cancel of a final message)",
    429: "Rate limit exceeded (Retry-After)",
    400: "Malformed JSON",
    401: "Missing or invalid token",
    403: "No allowed role",
    404: "Unknown message",
    406: "Accept does not list text/event-stream",
    413: "Body too large",
    415: "Not application/json",
    422: "Schema violations (every one, with a JSON path)",
    503: "Store or delivery unavailable",
}
#: A record's ``version``, ``progress`` and ``history`` (``shared.domain.message``).
RECORD_LIVE_FIELDS: Doc = {
    "version": {"type": "integer", "minimum": 0},
    "progress": {
        "oneOf": [
            {"type": "null"},
            {
                "type": "object",
                "required": ["fraction", "note", "at"],
                "properties": {
                    "fraction": {"type": "number", "minimum": 0, "maximum": 1},
                    "note": {"type": ["string", "null"]},
                    "at": {"type": "string", "format": "date-time"},
                },
            },
        ]
    },
    "history": {
        "type": "array",
        "maxItems": HISTORY_LIMIT,
        "items": {
            "type": "object",
            "required": ["at", "status", "attempt", "consumer"],
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "status": {"type": "string"},
                "attempt": {"type": "integer", "minimum": 0},
                "consumer": {"type": ["string", "null"]},
            },
        },
    },
}
RECORD_SCHEMA: Doc = {
    "type": "object",
    "required": [
        "id",
        "queue",
        "status",
        "request",
        "result",
        "error",
        "created_at",
        "updated_at",
        "attempts",
        "request_id",
    ],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "queue": {"type": "string"},
        "status": {"enum": [s.value for s in Status]},
        "request": {},
        "result": {},
        "error": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {
                        "type": {"type": "string"},
                        "message": {"type": "string"},
                        "traceback": {
                            "type": "string",
                            "description": "Admins only (system_admin, <queue>_admin; anyone "
                            "on a queue with auth off): the last 16 KiB of the failed "
                            "attempt's formatted traceback, cut at a line boundary after a "
                            "first line '…(cut)'. Absent for other callers, and when the "
                            "failure has no traceback (Retry, Reject, a result that is not "
                            "JSON, a sync handler's timeout).",
                        },
                    },
                },
            ]
        },
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "attempts": {"type": "integer", "minimum": 0},
        "request_id": {"type": ["string", "null"]},
        "not_before": {"type": ["string", "null"], "format": "date-time"},
        **RECORD_LIVE_FIELDS,
        "cancel_requested": {"type": "boolean"},
        "lease": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["owner", "until"],
                    "properties": {
                        "owner": {"type": "string"},
                        "until": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
            ],
            "description": "While INPROGRESS: the worker holding it (an id of GET /workers) "
            "and when its lease lapses unless renewed (a past time: the holder stalled or "
            "died). null for any other status.",
        },
        "delivery": {
            "type": ["string", "null"],
            "enum": ["queued", "delayed", "parked", None],
            "description": "While PENDING, where its delivery is: 'delayed' (waiting for "
            "not_before), 'queued' (handed to the work queue; re-delivered by the recovery "
            "sweep if it stays unclaimed). Computed from status and not_before; 'parked' is "
            "reserved. null for any other status.",
        },
    },
}
#: One entry of ``errors``: a message, with the JSON path of the value for a schema violation.
ERROR_ITEM: Doc = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}, "path": {"type": "string"}},
    "additionalProperties": False,
}
ERRORS_LIST: Doc = {"type": "array", "minItems": 1, "items": ERROR_ITEM}
#: RFC 9457 problem details with the ``errors`` extension (``shared.platform.problems``).
PROBLEM_SCHEMA: Doc = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": ERRORS_LIST,
        "required_roles": {
            "type": "array",
            "items": {"type": "string"},
            "description": "On a 403: the roles any one of which would have been enough.",
        },
    },
}
#: A delayed start (``gateway.http.start_param``): one of the two, not both.
START_PARAMS: list[Doc] = [
    {
        "name": "Not-Before",
        "in": "header",
        "required": False,
        "description": "Start no earlier than this RFC 3339 time (with a zone); past: at once. "
        "Not with delay. At most the queue's max_delay_seconds ahead (else 422).",
        "schema": {"type": "string", "format": "date-time"},
    },
    {
        "name": "delay",
        "in": "query",
        "required": False,
        "description": "Start no earlier than this many seconds from now. Not with Not-Before.",
        "schema": {"type": "number", "minimum": 0},
    },
]


def incoming_ref(queue: LoadedQueue) -> Doc:
    """A reference to ``queue``'s message schema among the document's components."""
    return {"$ref": f"#/components/schemas/{queue.name}.incoming"}


def problems(*statuses: int) -> Doc:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        str(s): {"description": REASONS[s], "content": {PROBLEM_JSON: {"schema": ref}}}
        for s in statuses
    }


def record_answer(status: int) -> Doc:
    ref = {"$ref": "#/components/schemas/Record"}
    return {str(status): {"description": REASONS[status], "content": json_body(ref)}}


def json_body(schema: Doc) -> Doc:
    return {"application/json": {"schema": schema}}


def _who(queue: LoadedQueue, roles: list[str] | None) -> tuple[list[str], str]:
    """The ``x-roles`` of an operation and the sentence describing them."""
    d = queue.definition
    if not d.auth_enabled:
        return [], "No authentication (security mechanism none)."
    if roles is None and not d.roles.needs_role:
        return [], "Any valid token."
    allowed = sorted(queue.allowed_roles) if roles is None else roles
    return allowed, f"Roles: {', '.join(allowed)}."


def guarded(
    queue: LoadedQueue, op_id: str, summary: str, responses: Doc, roles: list[str] | None = None
) -> Doc:
    """An operation with the queue's security and ``roles`` (None: the queue's own rules)."""
    d = queue.definition
    allowed, who = _who(queue, roles)
    operation: Doc = {
        "tags": [d.name],
        "operationId": f"{op_id}_{d.name}",
        "summary": summary,
        "description": f"{d.description + ' ' if d.description else ''}{who}",
        "responses": responses,
        "x-roles": allowed,
        "security": [{"bearerAuth": []}] if d.auth_enabled else [],
    }
    if d.auth_enabled:
        operation["responses"] = {**responses, **problems(401, 403)}
    return operation


def plain(summary: str, responses: Doc, content_type: str = "application/json") -> Doc:
    """An operation on a fixed path that needs no token: 200 with ``content_type``."""
    ok = {"description": "OK", "content": {content_type: {"schema": {}}}}
    return {"summary": summary, "security": [], "responses": {"200": ok, **responses}}
