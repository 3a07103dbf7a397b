"""``POST /{queue}/batch``: many messages in one request, each accepted or refused on its own.

Authentication and the role check happen once, before the body is read. The body is a JSON
array of at most ``--batch-max-items`` messages (more: 413; not an array or empty: 422). Each
item is validated on its own; the valid ones are recorded in one store batch and published
in one delivery confirm window (:meth:`shared.service.Messaging.push_many`). The answer is
``207`` with ``{"items": [...]}``, one entry per item in order: ``{"status": 201, "id",
"location"}``, or ``{"status": 422|413|503, "errors": [...]}``. An item answered 503 was not
kept (its record is removed again if its publish failed). With ``?wait=N`` the answer comes
once every accepted message is final, at the latest after N seconds, and each ``201`` item
also carries its ``record`` as it is then.

Rate limits count a batch as its number of items; since that number is in the body, a batch
is counted after its body is read. ``Idempotency-Key`` is not supported on batches (400), so
a client never believes a batch retry is safe when it is not.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.auth.callers import caller_of
from gateway.auth.queue_access import authorize
from gateway.http.errors import RETRY_AFTER_SECONDS, ApiError, error_items, json_response, status_of
from gateway.http.idempotency_header import HEADER as IDEMPOTENCY_HEADER
from gateway.http.request_ids import REQUEST_ID
from gateway.http.start_param import requested_start
from gateway.http.throttle import throttle
from gateway.http.wait_param import wait_seconds
from gateway.routes.messages import PUSH_WAIT_PARAM, RUNTIME, _read_json, location, resolve_queue
from gateway.routes.spec import (
    ERRORS_LIST,
    START_PARAMS,
    Doc,
    Route,
    guarded,
    incoming_ref,
    json_body,
    problems,
)
from shared.domain.message import MessageRecord
from shared.queues.registry import LoadedQueue
from shared.service import MessagingError


def _item(queue: str, outcome: MessageRecord | MessagingError, waited: bool) -> dict[str, Any]:
    if isinstance(outcome, MessageRecord):
        item = {"status": 201, "id": outcome.id, "location": location(queue, outcome.id)}
        return {**item, "record": outcome.to_public()} if waited else item
    return {"status": status_of(outcome), "errors": error_items(outcome)}


async def post_batch(request: web.Request) -> web.Response:
    """``POST /{queue}/batch``: 207 with one result per item, in order."""
    queue = await resolve_queue(request)
    principal = await authorize(request, queue)
    if IDEMPOTENCY_HEADER in request.headers:
        raise ApiError(400, f"{IDEMPOTENCY_HEADER} is not supported on batches")
    rt = request.app[RUNTIME]
    rt.pauses.check_push(queue)
    items = await _read_json(request)
    if not isinstance(items, list) or not items:
        raise ApiError(422, "a batch must be a non-empty JSON array of messages")
    limit = rt.settings.batch_max_items
    if len(items) > limit:
        raise ApiError(413, f"a batch may hold at most {limit} items, not {len(items)}")
    throttle(request, rt.settings, queue, caller_of(request, queue, principal), len(items))
    start, wait = requested_start(request), wait_seconds(request)
    outcomes = await rt.messaging.push_many(
        queue, items, request_id=request.get(REQUEST_ID), start=start, wait=wait
    )
    results = [_item(queue.name, outcome, wait is not None) for outcome in outcomes]
    for result in results:  # each item is a push: counted like a single POST's answer
        rt.metrics.pushed(queue.name, result["status"])
    headers = (
        {"Retry-After": RETRY_AFTER_SECONDS} if any(r["status"] == 503 for r in results) else None
    )
    return json_response({"items": results}, status=207, headers=headers)


def batch_doc(queue: LoadedQueue) -> Doc:
    """``POST /{queue}/batch``."""
    accepted = {
        "type": "object",
        "required": ["status", "id", "location"],
        "properties": {
            "status": {"const": 201},
            "id": {"type": "string", "format": "uuid"},
            "location": {"type": "string"},
            "record": {
                "$ref": "#/components/schemas/Record",
                "description": "With wait: the record once final, else as it was at the end",
            },
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
            "content": json_body(
                {"type": "object", "required": ["items"], "properties": {"items": results}}
            ),
        },
        **problems(400, 413, 415, 422, 429, 503),
    }
    post = guarded(queue, "push_batch", f"Push many messages onto {queue.name}", multi)
    array = {"type": "array", "minItems": 1, "items": incoming_ref(queue)}
    post["requestBody"] = {"required": True, "content": json_body(array)}
    post["parameters"] = [*START_PARAMS, PUSH_WAIT_PARAM]
    return post


ROUTES = (Route("POST", "/{queue}/batch", post_batch, per_queue=batch_doc),)
