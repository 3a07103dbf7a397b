"""``GET /openapi.json``: an OpenAPI 3.1 document built from the loaded definitions at
request time (``gateway.routes.docs`` shows it).

It names every queue and its schema, so it needs a valid token (any token, no role) unless
``--public-openapi`` is set, or unless no verification key is configured and every loaded
queue has auth switched off: then no token could ever be valid and there is nothing the
document would protect (``conveyor gateway`` only starts keyless in that case).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.auth.queue_access import authenticate
from gateway.http.errors import json_response
from gateway.routes.messages import RUNTIME
from gateway.routes.spec import (
    PROBLEM_SCHEMA,
    RECORD_SCHEMA,
    ROUTE_TABLE,
    Doc,
    Route,
    plain,
    problems,
)
from shared.queues.registry import Registry

#: A path template's parameters: ``{id}``, ``{action}``, ``{name:.+}``.
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _path_parameters(template: str, operation: Doc) -> list[Doc]:
    """The path parameters of ``template`` but ``queue`` (filled in) and those the
    operation describes itself."""
    own = {p["name"] for p in operation.get("parameters", ()) if p.get("in") == "path"}
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in PLACEHOLDER.findall(template)
        if name != "queue" and name not in own
    ]


def _paths(routes: Sequence[Route], registry: Registry, public: bool) -> Doc:
    """Every documented route's operations, the per-queue ones for each loaded queue."""
    paths: Doc = {}
    for route in routes:
        if route.fixed is not None:
            paths.setdefault(route.path, {})[route.method.lower()] = route.fixed(public)
    for name in registry.names:
        queue = registry.queues[name]
        for route in routes:
            if route.per_queue is None:
                continue
            operation = route.per_queue(queue)
            item = paths.setdefault(route.path.replace("{queue}", name), {})
            shared = _path_parameters(route.path, operation)
            if shared:
                item["parameters"] = shared
            item[route.method.lower()] = operation
    return paths


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


def openapi_document(routes: Sequence[Route], registry: Registry, *, public: bool = False) -> Doc:
    """The OpenAPI 3.1 document of ``routes`` for the queues in ``registry`` (``public``: it
    says that ``GET /openapi.json`` needs no token)."""
    paths = _paths(routes, registry, public)
    schemas: Doc = {"Record": RECORD_SCHEMA, "Problem": PROBLEM_SCHEMA}
    for name in registry.names:
        queue = registry.queues[name]
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
    routes: tuple[Route, ...] = request.app[ROUTE_TABLE]
    document = openapi_document(routes, registry, public=public)
    return json_response(document, headers={"Cache-Control": cache})


def document_doc(public: bool) -> Doc:
    """``GET /openapi.json``."""
    document = plain("This document", {} if public else problems(401))
    if not public:
        document["security"] = [{"bearerAuth": []}]
        document["x-roles"] = []
        document["description"] = "Any valid token."
    return document


ROUTES = (Route("GET", "/openapi.json", openapi_json, fixed=document_doc),)
