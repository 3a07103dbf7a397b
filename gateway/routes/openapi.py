"""``GET /openapi.json``: an OpenAPI 3.1 document built from the loaded definitions at
request time (``gateway.routes.docs`` shows it).

It names every queue and its schema, so it needs a valid token (any token, no role) unless
``--public-openapi`` is set, or unless no verification key is configured and every loaded
queue has auth switched off: then no token could ever be valid and there is nothing the
document would protect (``conveyor gateway`` only starts keyless in that case).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.auth.queue_access import authenticate
from gateway.http.errors import json_response
from gateway.routes.admin import ADMIN_ROLES, QUEUES_SCHEMA
from gateway.routes.bulk import BODY_SCHEMA as BULK_BODY
from gateway.routes.listing import MAX_LIMIT
from gateway.routes.messages import RUNTIME
from gateway.routes.redrive import redrive_roles
from shared.domain.message import HISTORY_LIMIT, Status
from shared.platform.problems import PROBLEM_JSON
from shared.queues.registry import LoadedQueue, Registry

Doc = dict[str, Any]

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
                    "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
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
#: ``Idempotency-Key``: 1 to 255 printable ASCII characters (``shared.domain.idempotency``).
IDEMPOTENCY_KEY: Doc = {"type": "string", "pattern": "^[ -~]{1,255}$"}
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


def _errors(*statuses: int) -> Doc:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        str(s): {"description": REASONS[s], "content": {PROBLEM_JSON: {"schema": ref}}}
        for s in statuses
    }


def _record_response(status: int) -> Doc:
    ref = {"$ref": "#/components/schemas/Record"}
    return {str(status): {"description": REASONS[status], "content": _json(ref)}}


def _json(schema: Doc) -> Doc:
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


def _guarded(
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
        operation["responses"] = {**responses, **_errors(401, 403)}
    return operation


def _push(queue: LoadedQueue, schema_ref: Doc) -> Doc:
    name = queue.name
    responses = {
        **_record_response(201),
        "200": {
            "description": "Idempotent replay: the message an earlier push with this key made",
            "content": _json({"$ref": "#/components/schemas/Record"}),
        },
        **_errors(400, 409, 413, 415, 422, 429, 503),
    }
    post = _guarded(queue, "push", f"Push a message onto {name}", responses)
    post["requestBody"] = {"required": True, "content": _json(schema_ref)}
    post["parameters"] = [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": IDEMPOTENCY_KEY,
        },
        *START_PARAMS,
    ]
    post["responses"]["201"]["headers"] = {
        "Location": {"schema": {"type": "string"}, "description": f"/{name}/{{id}}"}
    }
    return post


def _batch(queue: LoadedQueue, schema_ref: Doc) -> Doc:
    accepted = {
        "type": "object",
        "required": ["status", "id", "location"],
        "properties": {
            "status": {"const": 201},
            "id": {"type": "string", "format": "uuid"},
            "location": {"type": "string"},
        },
    }
    refused = {
        "type": "object",
        "required": ["status", "errors"],
        "properties": {
            "status": {"enum": [413, 422, 503]},
            "errors": ERRORS_LIST,
        },
    }
    results = {"type": "array", "items": {"oneOf": [accepted, refused]}}
    multi = {
        "207": {
            "description": "One result per item, in order",
            "content": _json(
                {"type": "object", "required": ["items"], "properties": {"items": results}}
            ),
        },
        **_errors(400, 413, 415, 422, 429, 503),
    }
    post = _guarded(queue, "push_batch", f"Push many messages onto {queue.name}", multi)
    array = {"type": "array", "minItems": 1, "items": schema_ref}
    post["requestBody"] = {"required": True, "content": _json(array)}
    post["parameters"] = list(START_PARAMS)
    return post


def _listing(queue: LoadedQueue) -> Doc:
    page = {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }
    responses = {"200": {"description": "A page, newest first", "content": _json(page)}}
    get = _guarded(
        queue, "list", f"List messages of {queue.name}", {**responses, **_errors(400, 503)}
    )
    status = {"enum": [s.value for s in Status]}
    get["parameters"] = [
        {"name": "status", "in": "query", "required": False, "schema": status},
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        },
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
    return get


#: ``GET /{queue}/{id}?wait=N`` (see ``gateway.http.wait_param``).
WAIT_PARAM: Doc = {
    "name": "wait",
    "in": "query",
    "required": False,
    "description": "Long poll: answer once the message is final, at most after this many s",
    "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
}


#: ``GET /{queue}/{id}/events`` (``gateway.routes.events``): reconnect from this event id.
LAST_EVENT_ID: Doc = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "The id of the last event received: only newer states are sent",
    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
}


def _events(queue: LoadedQueue) -> Doc:
    stream = {
        "description": "Server-Sent Events: the current state, then one event per status "
        "change (event: status) and progress report (event: progress), each with id = the "
        "record's version and data = the record as GET answers it; event: deleted if the "
        "message is deleted. Comment heartbeats; the stream ends after the final status, or "
        "after the gateway's --events-max-seconds (reconnect with Last-Event-ID). Send "
        "Accept: text/event-stream.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
    responses = {"200": stream, **_errors(400, 404, 406, 503)}
    summary = f"Follow a message of {queue.name} live (text/event-stream)"
    get = _guarded(queue, "events", summary, responses)
    get["parameters"] = [LAST_EVENT_ID]
    return get


def _queue_paths(queue: LoadedQueue) -> Doc:
    name = queue.name
    schema_ref = {"$ref": f"#/components/schemas/{name}.incoming"}
    found = {**_record_response(200), **_errors(404, 503)}
    gone = {"204": {"description": REASONS[204]}, **_errors(404, 503)}
    redriven = {**_record_response(200), **_errors(404, 409, 503)}
    admins = sorted(redrive_roles(name))
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        f"/{name}": {"post": _push(queue, schema_ref), "get": _listing(queue)},
        f"/{name}/batch": {"post": _batch(queue, schema_ref)},
        f"/{name}/{{id}}": {
            "parameters": [id_param],
            "get": {
                **_guarded(queue, "get", f"Read a message of {name}", {**found, **_errors(400)}),
                "parameters": [WAIT_PARAM],
            },
            "delete": _guarded(queue, "delete", f"Delete a message of {name}", gone),
        },
        f"/{name}/{{id}}/events": {"parameters": [id_param], "get": _events(queue)},
        f"/{name}/{{id}}/retry": {
            "parameters": [id_param],
            "post": _guarded(
                queue, "redrive", f"Run an ERROR message of {name} again", redriven, admins
            ),
        },
    }


#: ``POST /{queue}/bulk/{action}``'s answer (``shared.service.bulk.BulkResult``).
BULK_RESULT: Doc = {
    "type": "object",
    "required": ["acted", "skipped"],
    "properties": {
        "acted": {"type": "array", "items": {"type": "string"}},
        "skipped": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "reason"],
                "properties": {"id": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}


def _control_paths(queue: LoadedQueue) -> Doc:
    """Cancel (``gateway.routes.cancel``) and bulk actions (``gateway.routes.bulk``) on
    ``queue``."""
    name = queue.name
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    cancelled = {**_record_response(200), **_record_response(202), **_errors(404, 409, 503)}
    action = {"type": "string", "enum": ["cancel", "retry", "delete"]}
    acted = {"200": {"description": "Acted on and skipped ids", "content": _json(BULK_RESULT)}}
    bulk = _guarded(
        queue,
        "bulk",
        f"Cancel, retry (redrive) or delete many messages of {name}",
        {**acted, **_errors(400, 404, 413, 415, 422, 503)},
        sorted(redrive_roles(name)),
    )
    bulk["requestBody"] = {"required": True, "content": _json(BULK_BODY)}
    return {
        f"/{name}/{{id}}/cancel": {
            "parameters": [id_param],
            "post": _guarded(queue, "cancel", f"Cancel a message of {name}", cancelled),
        },
        f"/{name}/bulk/{{action}}": {
            "parameters": [{"name": "action", "in": "path", "required": True, "schema": action}],
            "post": bulk,
        },
    }


def _plain(summary: str, responses: Doc, content_type: str = "application/json") -> Doc:
    ok = {"description": "OK", "content": {content_type: {"schema": {}}}}
    return {"get": {"summary": summary, "security": [], "responses": {"200": ok, **responses}}}


def _fixed_paths(public: bool) -> Doc:
    queues = _plain("Loaded queues, their definitions and message counts", _errors(401, 503))
    queues["get"]["security"] = [{"bearerAuth": []}]
    queues["get"]["x-roles"] = []
    queues["get"]["description"] = (
        "Any valid token: the queues it has a role on (every queue, and the definitions that "
        f"failed to load, for {', '.join(sorted(ADMIN_ROLES))}). Without a token: the queues "
        "with auth switched off (401 when there are none)."
    )
    queues["get"]["responses"]["200"]["content"]["application/json"]["schema"] = QUEUES_SCHEMA
    document = _plain("This document", {} if public else _errors(401))
    if not public:
        document["get"]["security"] = [{"bearerAuth": []}]
        document["get"]["x-roles"] = []
        document["get"]["description"] = "Any valid token."
    return {
        "/healthz": _plain("Liveness", {}),
        "/readyz": _plain(
            "Readiness: store and delivery answer (the queues and the failing parts' reasons "
            "only for a token with a reader or admin role)",
            _errors(503),
        ),
        "/queues": queues,
        "/metrics": _plain(
            "Prometheus metrics (the series labelled by queue only for a token with a reader "
            "or admin role)",
            {},
            "text/plain",
        ),
        "/openapi.json": document,
        "/docs": _plain("Swagger UI for this document (it asks for a token)", {}, "text/html"),
        "/ui": _plain("The operators' dashboard (it asks for a token)", {}, "text/html"),
    }


def rebase_refs(schema: Any, base: str) -> Any:
    """A copy of ``schema`` whose local references (``"$ref": "#/..."``) point into it at
    its new place ``base`` in the document."""
    if isinstance(schema, list):
        return [rebase_refs(item, base) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: rebase_refs(value, base) for key, value in schema.items()}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        out["$ref"] = base + ref[1:]
    return out


def openapi_document(registry: Registry, *, public: bool = False) -> Doc:
    """The OpenAPI 3.1 document for the queues in ``registry`` (``public``: it says that
    ``GET /openapi.json`` needs no token)."""
    paths = _fixed_paths(public)
    schemas: Doc = {"Record": RECORD_SCHEMA, "Problem": PROBLEM_SCHEMA}
    for name in registry.names:
        queue = registry.queues[name]
        paths.update(_queue_paths(queue))
        paths.update(_control_paths(queue))
        component = f"{name}.incoming"
        schemas[component] = rebase_refs(
            queue.definition.schema, f"#/components/schemas/{component}"
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Conveyor", "version": "1", "description": "Queues behind HTTP."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def is_public(request: web.Request, registry: Registry) -> bool:
    """True if ``GET /openapi.json`` answers without a token (see the module docstring)."""
    settings = request.app[RUNTIME].settings
    if settings.public_openapi:
        return True
    if settings.has_keys:
        return False
    return not any(q.definition.auth_enabled for q in registry.queues.values())


async def openapi_json(request: web.Request) -> web.Response:
    """``GET /openapi.json``: the document; 401 without a valid token unless public."""
    registry = request.app[RUNTIME].registry()
    public = is_public(request, registry)
    if not public:
        await authenticate(request)
    # Built per request from definitions that may be reloaded, and private unless public.
    cache = "no-cache" if public else "private, no-store"
    return json_response(
        openapi_document(registry, public=public), headers={"Cache-Control": cache}
    )


def add_openapi_routes(app: web.Application) -> None:
    """Register ``/openapi.json``."""
    app.router.add_get("/openapi.json", openapi_json)
