"""Listing a queue's messages: ``GET /{queue}?status=&limit=&cursor=&where=``.

``where=field:value`` (repeatable, ANDed: ``gateway.http.where``) keeps the messages whose
body has that value in an indexed field; ``409`` while that field's index is being built.

Newest first (``created_at`` then ``id``, descending). ``next_cursor`` is an opaque base64url
token of the last record's ``{created_at, id}`` (keyset pagination: stable while messages are
added), null on the last page. Same roles as the queue's other endpoints.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from gateway.auth.queue_access import authorize
from gateway.auth.record_view import record_view
from gateway.http.errors import ApiError, json_response
from gateway.http.numbers import integer, shown
from gateway.http.where import WhereError, parse_where
from gateway.routes.messages import RUNTIME, resolve_queue
from gateway.routes.spec import Doc, Route, guarded, json_body, problems
from shared.domain.message import MessageRecord, Status
from shared.ports import ListCursor
from shared.queues.registry import LoadedQueue

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(record: MessageRecord) -> str:
    """The opaque cursor that continues a listing after ``record``."""
    return encode_position(ListCursor(record.created_at, record.id))


def encode_position(position: ListCursor) -> str:
    """The opaque cursor of ``position`` in any newest-first keyset listing (messages, the
    audit log: a time and a UUID); :func:`decode_cursor` reads it back."""
    data = json.dumps({"created_at": position.created_at.isoformat(), "id": position.id})
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> ListCursor:
    """Parse a cursor from :func:`encode_cursor`; ApiError 400 for anything else.

    Whatever ``text`` holds, the only exception is that 400. A cursor that decodes is one a
    store can take: ``created_at`` is an aware datetime representable in UTC (so neither
    store's encoder overflows on it) and ``id`` a message id (a canonical UUID).
    """
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        created_at = datetime.fromisoformat(data["created_at"])
        message_id = data["id"]
        if created_at.tzinfo is None or not isinstance(message_id, str):
            raise ValueError("incomplete cursor")
        created_at = created_at.astimezone(UTC)  # OverflowError past year 1 or 9999 in UTC
        if str(uuid.UUID(message_id)) != message_id:
            raise ValueError("not a message id")
    except (ValueError, TypeError, LookupError, OverflowError, RecursionError, binascii.Error):
        raise ApiError(400, "cursor is malformed (use next_cursor from a listing)") from None
    return ListCursor(created_at, message_id)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    value = integer("limit", raw)
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIMIT}, not {shown(raw)}")
    return value


def _status(raw: str | None) -> Status | None:
    if raw is None:
        return None
    try:
        return Status(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        raise ApiError(400, f"status must be one of {allowed}, not {raw!r}") from None


async def list_messages(request: web.Request) -> web.Response:
    """``GET /{queue}?status=&limit=&cursor=&where=``: ``{"items": [...], "next_cursor": ...}``."""
    queue = await resolve_queue(request)
    view = record_view(queue, await authorize(request, queue))
    query = request.query
    status, limit = _status(query.get("status")), _limit(query.get("limit"))
    cursor = query.get("cursor")
    before = decode_cursor(cursor) if cursor is not None else None
    try:
        where = parse_where(query.getall("where", []), queue.definition.indexed)
    except WhereError as exc:
        raise ApiError(400, str(exc)) from None
    rows = await request.app[RUNTIME].messaging.list(queue, status, limit + 1, before, where)
    items, more = rows[:limit], len(rows) > limit
    return json_response(
        {
            "items": [view(record) for record in items],
            "next_cursor": encode_cursor(items[-1]) if more else None,
        }
    )


#: ``?limit=&cursor=`` of a keyset listing (this one and ``GET /audit``).
PAGE_PARAMS: list[Doc] = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
]


async def search_indexes(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: build the served queues' search indexes in the background from the
    gateway's start (and after each reload: ``shared.service.searching``), stop at its end."""
    rt = app[RUNTIME]
    indexes = rt.messaging.indexes
    if indexes is not None:
        indexes.start(rt.registry.current.queues.values())
    yield
    if indexes is not None:
        await indexes.close()


def listing_doc(queue: LoadedQueue) -> Doc:
    """``GET /{queue}``."""
    page = {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    }
    responses = {"200": {"description": "A page, newest first", "content": json_body(page)}}
    get = guarded(
        queue, "list", f"List messages of {queue.name}", {**responses, **problems(400, 503)}
    )
    status = {"enum": [s.value for s in Status]}
    get["parameters"] = [
        {"name": "status", "in": "query", "required": False, "schema": status},
        *PAGE_PARAMS,
    ]
    if queue.definition.indexed:
        get["parameters"].append(
            {
                "name": "where",
                "in": "query",
                "required": False,
                "description": "field:value on an indexed field ("
                + ", ".join(f"{name}: {kind}" for name, kind in queue.definition.indexed.items())
                + "); repeatable, every term must match",
                "schema": {"type": "array", "items": {"type": "string"}},
                "style": "form",
                "explode": True,
            }
        )
    return get


ROUTES = (Route("GET", "/{queue}", list_messages, per_queue=listing_doc),)
