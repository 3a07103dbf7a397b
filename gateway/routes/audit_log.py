"""The audit log of operator actions: ``GET /audit?queue=&limit=&cursor=`` (what is recorded,
and the hook that records it: ``gateway.auth.operators``).

Who reads it: ``system_admin`` every entry; ``<queue>_admin`` the entries of that queue. A
queue admin without ``?queue`` gets the entries of every queue it administers (the queues
named by its ``<queue>_admin`` roles), merged newest first; a token with no admin role gets
403, and so does ``?queue=q`` without ``system_admin`` or ``q_admin``. Newest first (``at``
then the entry's id, descending); ``next_cursor`` is the message listing's opaque cursor
codec (``gateway.routes.listing``) over the last entry's ``(at, id)``, null on the last
page; a malformed ``limit`` or ``cursor`` is 400.
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.bearer import Principal
from gateway.auth.operators import administers
from gateway.auth.queue_access import admin_roles, authenticate, forbidden
from gateway.http.errors import ApiError, json_response
from gateway.routes.listing import PAGE_PARAMS, _limit, decode_cursor, encode_position
from gateway.routes.messages import RUNTIME
from gateway.routes.spec import Doc, Route, json_body, plain, problems
from shared.domain.audit_entry import AuditAction
from shared.ports import ListCursor
from shared.queues.roles import SYSTEM_ADMIN

#: The role suffix that makes a token an admin of the queue it prefixes.
ADMIN_SUFFIX = "_admin"
#: The roles named in a 403 of ``GET /audit`` without ``?queue``.
READER_ROLES = frozenset({SYSTEM_ADMIN, "<queue>" + ADMIN_SUFFIX})


def readable_queues(principal: Principal, queue: str | None) -> frozenset[str] | None:
    """The queues whose entries the caller may read (None: every queue); 403 if none."""
    if queue is not None:
        if not administers(principal, queue):
            raise forbidden(f"the audit log of {queue} needs one of the roles", admin_roles(queue))
        return frozenset({queue})
    if SYSTEM_ADMIN in principal.roles:
        return None
    queues = frozenset(
        role.removesuffix(ADMIN_SUFFIX)
        for role in principal.roles
        if role.endswith(ADMIN_SUFFIX) and len(role) > len(ADMIN_SUFFIX)
    )
    if not queues:
        raise forbidden("the audit log needs one of the roles", READER_ROLES)
    return queues


def _queue(raw: str | None) -> str | None:
    if raw is not None and not raw.strip():
        raise ApiError(400, "queue must name a queue (omit it for every queue you administer)")
    return raw


async def list_audit(request: web.Request) -> web.Response:
    """``GET /audit?queue=&limit=&cursor=``: ``{"items": [...], "next_cursor": ...}``."""
    principal = await authenticate(request)
    query = request.query
    queue, limit = _queue(query.get("queue")), _limit(query.get("limit"))
    cursor = query.get("cursor")
    before = decode_cursor(cursor) if cursor is not None else None
    queues = readable_queues(principal, queue)
    rows = await request.app[RUNTIME].audit.page(queues, limit + 1, before)
    items, more = rows[:limit], len(rows) > limit
    last = items[-1] if more else None
    return json_response(
        {
            "items": [entry.to_public() for entry in items],
            "next_cursor": encode_position(ListCursor(last.at, last.id)) if last else None,
        }
    )


#: One entry of ``GET /audit`` (``shared.domain.audit_entry.AuditEntry.to_public``).
ENTRY_SCHEMA: Doc = {
    "type": "object",
    "required": ["at", "subject", "action", "queue", "target", "count"],
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "subject": {
            "type": ["string", "null"],
            "description": "The token's subject (sub); null on a queue with auth off",
        },
        "action": {"enum": [a.value for a in AuditAction]},
        "queue": {"type": "string"},
        "target": {
            "description": "A message id (redrive, cancel, delete), the bulk filter "
            "(status, created_before, created_after, where, limit), or null (pause, resume)",
            "oneOf": [{"type": "string"}, {"type": "object"}, {"type": "null"}],
        },
        "count": {"type": "integer", "minimum": 0, "description": "Messages acted on"},
    },
}
PAGE_SCHEMA: Doc = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": ENTRY_SCHEMA},
        "next_cursor": {"type": ["string", "null"]},
    },
}


def audit_doc(public: bool) -> Doc:
    """``GET /audit``."""
    doc = plain("The audit log of operator actions, newest first", problems(400, 401, 403, 503))
    doc["security"] = [{"bearerAuth": []}]
    doc["x-roles"] = [SYSTEM_ADMIN, "<queue>_admin"]
    doc["description"] = (
        "Redrives, bulk actions, pauses and resumes, and cancels and deletes by a queue's "
        "admin. system_admin: every entry; <queue>_admin: that queue's entries (without "
        "?queue, those of every queue it administers)."
    )
    doc["responses"]["200"]["content"] = json_body(PAGE_SCHEMA)
    doc["parameters"] = [
        {"name": "queue", "in": "query", "required": False, "schema": {"type": "string"}},
        *PAGE_PARAMS,
    ]
    return doc


ROUTES = (Route("GET", "/audit", list_audit, fixed=audit_doc),)
