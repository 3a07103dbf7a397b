"""The HTTP API: push, get and delete messages; liveness and readiness."""

from __future__ import annotations

from aiohttp import web

from gateway.callers import caller_of
from gateway.errors import ApiError, json_response
from gateway.idempotency import idempotency_key, push_idempotent
from gateway.pushing import location, push_errors
from gateway.request_ids import REQUEST_ID
from gateway.security import authorize
from gateway.throttle import throttle
from gateway.waiting import wait_for_final, wait_seconds
from shared.messaging import Unavailable, UnknownQueue
from shared.ports import DeliveryUnavailable, StoreUnavailable
from shared.registry import LoadedQueue
from shared.runtime import Runtime
from shared.validation import BadJson, parse_json

RUNTIME = web.AppKey("runtime", Runtime)


def _queue(request: web.Request) -> LoadedQueue:
    name = request.match_info["queue"]
    queue = request.app[RUNTIME].registry().get(name)
    if queue is None:
        raise ApiError(404, f"unknown queue {name!r}")
    return queue


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


async def post_message(request: web.Request) -> web.Response:
    """``POST /{queue}``: 201 with the PENDING record and its Location."""
    queue = _queue(request)
    principal = await authorize(request, queue)
    caller = caller_of(request, queue, principal)
    throttle(request, request.app[RUNTIME].settings, queue, caller)
    key = idempotency_key(request)
    message = await _read_json(request)
    if key is not None:
        rt, rid = request.app[RUNTIME], request.get(REQUEST_ID)
        return await push_idempotent(rt, queue, caller, key, message, rid)
    with push_errors(queue.name):
        record = await request.app[RUNTIME].messaging.push(
            queue.name, message, request_id=request.get(REQUEST_ID)
        )
    return json_response(
        record.to_public(), status=201, headers={"Location": location(queue.name, record.id)}
    )


async def get_message(request: web.Request) -> web.Response:
    """``GET /{queue}/{id}``: 200 with the record, 404 if unknown.

    ``?wait=N``: answer once the message is final (or gone), at the latest after N seconds
    with its current state (see ``gateway.waiting``)."""
    queue = _queue(request)
    await authorize(request, queue)
    message_id = request.match_info["id"]
    wait = wait_seconds(request)
    try:
        record = await request.app[RUNTIME].messaging.get(queue.name, message_id)
        if record is not None and wait is not None and not record.status.final:
            record = await wait_for_final(request.app[RUNTIME], queue.name, message_id, wait)
    except (Unavailable, UnknownQueue) as exc:
        raise ApiError(503, str(exc)) from None
    if record is None:
        raise ApiError(404, f"no message {message_id} on queue {queue.name}")
    return json_response(record.to_public())


async def delete_message(request: web.Request) -> web.Response:
    """``DELETE /{queue}/{id}``: 204, or 404 if unknown."""
    queue = _queue(request)
    await authorize(request, queue)
    message_id = request.match_info["id"]
    try:
        existed = await request.app[RUNTIME].messaging.delete(queue.name, message_id)
    except (Unavailable, UnknownQueue) as exc:
        raise ApiError(503, str(exc)) from None
    request.app[RUNTIME].notifier.notify(message_id)  # waiters here answer 404 at once
    if not existed:
        raise ApiError(404, f"no message {message_id} on queue {queue.name}")
    return web.Response(status=204)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: store and delivery both reachable; 503 listing what is not."""
    rt = request.app[RUNTIME]
    errors: list[str] = []
    try:
        await rt.store.ping()
    except StoreUnavailable as exc:
        errors.append(f"store: {exc}")
    try:
        await rt.delivery.ping()
    except DeliveryUnavailable as exc:
        errors.append(f"delivery: {exc}")
    if errors:
        raise ApiError(503, *errors)
    return json_response({"status": "ready", "queues": rt.registry().names})


def add_routes(app: web.Application) -> None:
    """Register the API routes (fixed paths first, so they win over ``/{queue}``)."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post("/{queue}", post_message)
    app.router.add_get("/{queue}/{id}", get_message)
    app.router.add_delete("/{queue}/{id}", delete_message)
