"""The HTTP API: push, get and delete messages."""

from __future__ import annotations

from aiohttp import web

from gateway.auth.callers import caller_of
from gateway.auth.operators import administers, audited
from gateway.auth.queue_access import authenticate, authorize
from gateway.auth.record_view import record_view
from gateway.http.errors import ApiError, json_response
from gateway.http.idempotency_header import idempotency_key
from gateway.http.request_ids import REQUEST_ID
from gateway.http.start_param import requested_start
from gateway.http.throttle import throttle
from gateway.http.wait_param import wait_seconds
from gateway.routes.spec import (
    REASONS,
    START_PARAMS,
    Doc,
    Route,
    guarded,
    incoming_ref,
    json_body,
    problems,
    record_answer,
)
from shared.domain.audit_entry import AuditAction
from shared.domain.payloads import BadJson, parse_json
from shared.queues.registry import LoadedQueue
from shared.runtime.resources import Runtime
from shared.service import UnknownQueue

RUNTIME = web.AppKey("runtime", Runtime)


def location(queue: str, message_id: str) -> str:
    """The ``Location`` of a message."""
    return f"/{queue}/{message_id}"


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def _read_json(request: web.Request) -> object:
    if not _is_json(request.content_type):
        raise ApiError(415, f"Content-Type must be application/json, not {request.content_type}")
    settings = request.app[RUNTIME].settings
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"body is larger than {limit} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, f"body is larger than {limit} bytes") from None
    try:
        return parse_json(body, settings.max_json_depth)
    except BadJson as exc:
        raise ApiError(400, str(exc)) from None


async def resolve_queue(request: web.Request) -> LoadedQueue:
    """The queue named in the path, looked up once per request.

    An unknown queue is 404 only for a caller with a valid token (when keys are configured):
    without one it is 401, exactly like an existing queue with auth on, so queue names
    cannot be probed anonymously.
    """
    rt = request.app[RUNTIME]
    try:
        return rt.messaging.queue(request.match_info["queue"])
    except UnknownQueue:
        if rt.settings.has_keys:
            await authenticate(request)
        raise


async def post_message(request: web.Request) -> web.Response:
    """``POST /{queue}``: 201 with the PENDING record and its Location.

    With ``Idempotency-Key``: 200 with the original record when the key was used before
    with the same body (see ``shared.service.idempotent_push``). ``?wait=N``: the record once
    the message is final, at the latest after N seconds as it is then (like ``GET ?wait=``)."""
    queue = await resolve_queue(request)
    principal = await authorize(request, queue)
    caller = caller_of(request, queue, principal)
    throttle(request, request.app[RUNTIME].settings, queue, caller)
    request.app[RUNTIME].pauses.check_push(queue)
    key, start, wait = idempotency_key(request), requested_start(request), wait_seconds(request)
    message = await _read_json(request)
    pushed = await request.app[RUNTIME].messaging.push(
        queue,
        message,
        request_id=request.get(REQUEST_ID),
        idempotency_key=key,
        caller=caller,
        start=start,
        wait=wait,
    )
    record = pushed.record
    return json_response(
        record_view(queue, principal)(record),  # a replay may answer a failed message
        status=201 if pushed.created else 200,
        headers={"Location": location(queue.name, record.id)},
    )


async def get_message(request: web.Request) -> web.Response:
    """``GET /{queue}/{id}``: 200 with the record, 404 if unknown.

    ``?wait=N``: answer once the message is final (or gone), at the latest after N seconds
    with its current state (see ``shared.service.waiting``)."""
    queue = await resolve_queue(request)
    principal = await authorize(request, queue)
    message_id = request.match_info["id"]
    wait = wait_seconds(request)
    record = await request.app[RUNTIME].messaging.get(queue, message_id, wait=wait)
    if record is None:
        raise ApiError(404, f"no message {message_id} on queue {queue.name}")
    return json_response(record_view(queue, principal)(record))


async def delete_message(request: web.Request) -> web.Response:
    """``DELETE /{queue}/{id}``: 204, or 404 if unknown. Audited when by a queue admin."""
    queue = await resolve_queue(request)
    principal = await authorize(request, queue)
    message_id = request.match_info["id"]
    rt = request.app[RUNTIME]
    if not await rt.messaging.delete(queue, message_id):
        raise ApiError(404, f"no message {message_id} on queue {queue.name}")
    if administers(principal, queue.name):
        await audited(rt.audit, principal, AuditAction.DELETE, queue.name, message_id, 1)
    return web.Response(status=204)


#: ``Idempotency-Key``: 1 to 255 printable ASCII characters (``shared.domain.idempotency``).
IDEMPOTENCY_KEY: Doc = {"type": "string", "pattern": "^[ -~]{1,255}$"}
#: ``?wait=N`` on ``GET /{queue}/{id}`` and on pushes (see ``gateway.http.wait_param``).
WAIT_SCHEMA: Doc = {"type": "number", "exclusiveMinimum": 0, "maximum": 60}
WAIT_PARAM: Doc = {
    "name": "wait",
    "in": "query",
    "required": False,
    "description": "Long poll: answer once the message is final, at most after this many s",
    "schema": WAIT_SCHEMA,
}
#: ``POST /{queue}?wait=N`` and ``POST /{queue}/batch?wait=N``.
PUSH_WAIT_PARAM: Doc = {
    "name": "wait",
    "in": "query",
    "required": False,
    "description": "Answer once the message is final (its final record), at the latest after "
    "this many seconds with its current state (PENDING or INPROGRESS; with delay: after the "
    "wait unless it finished), at once when the gateway shuts down",
    "schema": WAIT_SCHEMA,
}


def push_doc(queue: LoadedQueue) -> Doc:
    """``POST /{queue}``."""
    name = queue.name
    responses = {
        "201": {
            "description": "Created: the PENDING record (with wait: the record then, final if "
            "the message finished)",
            "content": json_body({"$ref": "#/components/schemas/Record"}),
        },
        "200": {
            "description": "Idempotent replay: the message an earlier push with this key made "
            "(with wait: once final, as for 201)",
            "content": json_body({"$ref": "#/components/schemas/Record"}),
        },
        **problems(400, 409, 413, 415, 422, 429, 503),
    }
    post = guarded(queue, "push", f"Push a message onto {name}", responses)
    post["requestBody"] = {"required": True, "content": json_body(incoming_ref(queue))}
    post["parameters"] = [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": IDEMPOTENCY_KEY,
        },
        *START_PARAMS,
        PUSH_WAIT_PARAM,
    ]
    post["responses"]["201"]["headers"] = {
        "Location": {"schema": {"type": "string"}, "description": f"/{name}/{{id}}"}
    }
    return post


def get_doc(queue: LoadedQueue) -> Doc:
    """``GET /{queue}/{id}``."""
    found = {**record_answer(200), **problems(400, 404, 503)}
    return {
        **guarded(queue, "get", f"Read a message of {queue.name}", found),
        "parameters": [WAIT_PARAM],
    }


def delete_doc(queue: LoadedQueue) -> Doc:
    """``DELETE /{queue}/{id}``."""
    gone = {"204": {"description": REASONS[204]}, **problems(404, 503)}
    return guarded(queue, "delete", f"Delete a message of {queue.name}", gone)


ROUTES = (
    Route("POST", "/{queue}", post_message, per_queue=push_doc),
    Route("GET", "/{queue}/{id}", get_message, per_queue=get_doc),
    Route("DELETE", "/{queue}/{id}", delete_message, per_queue=delete_doc),
)
