"""``GET /{queue}/{id}/events``: one message's changes as Server-Sent Events.

The answer (``text/event-stream``) starts with ``retry: 1000`` and the current state, then
carries one event per change the gateway reads (``shared.service.watching``), and ends
after the final status:

- ``event: status``: the first event, and each whose status differs from the previous one;
- ``event: progress``: same status, a new progress report;
- ``event: deleted``: the message was deleted (the last event);
- ``data:`` the record as ``GET /{queue}/{id}`` answers it (one line of JSON), except for
  ``deleted`` (``{"id": …}``); ``id:`` the record's ``version``.

A client reconnecting with ``Last-Event-ID: N`` gets the current state only if its version
is newer than N (nothing twice), and the final status whenever it has not seen it. A comment
(``: heartbeat``) goes out after ``--events-heartbeat-seconds`` without an event, and the
stream ends after ``--events-max-seconds``, or when the caller's token expires if sooner (the
client reconnects with its last id, and a fresh token). Graceful
shutdown ends every stream (``Notifier.close``, ``gateway.draining``). Errors before the
stream starts are ordinary problem answers: 401/403 as ``GET``, 404, 400 for a malformed
``Last-Event-ID``, and 406 without ``Accept: text/event-stream``.
"""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web

from gateway.auth.bearer import Principal
from gateway.auth.queue_access import authorize
from gateway.auth.record_view import record_view
from gateway.http.errors import ApiError
from gateway.http.numbers import integer
from gateway.http.request_ids import REQUEST_ID, REQUEST_ID_HEADER
from gateway.routes.messages import RUNTIME, resolve_queue
from gateway.routes.spec import Doc, Route, guarded, problems
from shared.domain.message import MessageRecord, Status
from shared.queues.registry import LoadedQueue
from shared.service import MessagingError
from shared.service.watching import Tick

log = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
#: How long a client waits before reconnecting after the stream ends, in milliseconds.
RETRY_MS = 1000


def accepts_event_stream(accept: str) -> bool:
    """True if the ``Accept`` header lists ``text/event-stream`` (with a q above 0)."""
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != EVENT_STREAM:
            continue
        q = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:
            continue
    return False


def last_event_id(request: web.Request) -> int | None:
    """The ``Last-Event-ID`` header as a version; None if absent or empty; 400 unless a
    plain integer (``gateway.http.numbers``: at most 15 digits, checked before converting)."""
    raw = request.headers.get("Last-Event-ID", "").strip()
    if not raw:
        return None
    return integer("Last-Event-ID", raw)


def stream_seconds(principal: Principal, longest: float) -> float:
    """How long a stream may run: ``longest``, or less if the token's ``exp`` comes first."""
    exp = principal.claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return max(0.0, min(longest, float(exp) - time.time()))
    return longest


def frame(event: str, event_id: int | None, data: object) -> bytes:
    """One event: ``event:``, ``id:`` (when given) and a one-line JSON ``data:``."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=True))
    return ("\n".join(lines) + "\n\n").encode()


async def message_events(request: web.Request) -> web.StreamResponse:
    """``GET /{queue}/{id}/events`` (see the module docstring)."""
    queue = await resolve_queue(request)
    principal = await authorize(request, queue)
    if not accepts_event_stream(request.headers.get("Accept", "")):
        raise ApiError(
            406, f"this endpoint answers {EVENT_STREAM} only: send Accept: {EVENT_STREAM}"
        )
    after = last_event_id(request)
    rt = request.app[RUNTIME]
    message_id = request.match_info["id"]
    if await rt.messaging.get(queue, message_id) is None:
        raise ApiError(404, f"no message {message_id} on queue {queue.name}")
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{EVENT_STREAM}; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass events on at once
            REQUEST_ID_HEADER: request[REQUEST_ID],
        }
    )
    await response.prepare(request)
    settings = rt.settings
    changes = rt.messaging.watch(
        queue,
        message_id,
        after=after,
        heartbeat=settings.events_heartbeat_seconds,
        max_seconds=stream_seconds(principal, settings.events_max_seconds),
    )
    status: Status | None = None
    view = record_view(queue, principal)
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        async for change in changes:
            if isinstance(change, MessageRecord):
                kind = "status" if change.status is not status else "progress"
                status = change.status
                await response.write(frame(kind, change.version, view(change)))
            elif change is Tick.HEARTBEAT:
                await response.write(b": heartbeat\n\n")
            else:
                await response.write(frame("deleted", None, {"id": message_id}))
        await response.write_eof()
    except MessagingError as exc:  # the store went away mid-stream: end it, the client retries
        log.warning("event stream of %s on %s ended: %s", message_id, queue.name, exc)
    except ConnectionError:  # the client left
        pass
    finally:
        await changes.aclose()
    return response


#: ``Last-Event-ID``: reconnect from this event id (a record version).
LAST_EVENT_ID: Doc = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "The id of the last event received: only newer states are sent",
    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
}


def events_doc(queue: LoadedQueue) -> Doc:
    """``GET /{queue}/{id}/events``."""
    stream = {
        "description": "Server-Sent Events: the current state, then one event per status "
        "change (event: status) and progress report (event: progress), each with id = the "
        "record's version and data = the record as GET answers it; event: deleted if the "
        "message is deleted. Comment heartbeats; the stream ends after the final status, or "
        "after the gateway's --events-max-seconds (reconnect with Last-Event-ID). Send "
        "Accept: text/event-stream.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
    responses = {"200": stream, **problems(400, 404, 406, 503)}
    summary = f"Follow a message of {queue.name} live (text/event-stream)"
    get = guarded(queue, "events", summary, responses)
    get["parameters"] = [LAST_EVENT_ID]
    return get


ROUTES = (
    Route("GET", "/{queue}/{id}/events", message_events, per_queue=events_doc, allow_head=False),
)
