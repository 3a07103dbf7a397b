"""A queue's finished runs per minute: ``GET /{queue}/stats?minutes=60``.

The dashboard's charts read it: per minute of the window (oldest first; only minutes with
runs), the runs that ended COMPLETE (``completed``), ERROR (``failed``), CANCELLED, or failed
with a retry scheduled (``retried``), how many run durations were counted (``runs``, every
attempt) and their p50/p95 in milliseconds, from the rollups consumers write
(``shared.service.stats``). Same roles as listing the queue.
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.queue_access import authorize
from gateway.http.errors import ApiError, json_response
from gateway.http.numbers import integer, shown
from gateway.routes.messages import RUNTIME, resolve_queue
from gateway.routes.spec import Doc, Route, guarded, json_body, problems
from shared.domain.run_stats import BUCKET_RELATIVE_ERROR, COUNTERS
from shared.queues.registry import LoadedQueue
from shared.service.stats import MAX_MINUTES, last_minutes

DEFAULT_MINUTES = 60


def _minutes(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_MINUTES
    value = integer("minutes", raw)
    if not 1 <= value <= MAX_MINUTES:
        raise ApiError(400, f"minutes must be an integer from 1 to {MAX_MINUTES}, not {shown(raw)}")
    return value


async def queue_stats(request: web.Request) -> web.Response:
    """``GET /{queue}/stats?minutes=``: ``{"queue", "minutes", "quantile_error", "series"}``."""
    queue = await resolve_queue(request)
    await authorize(request, queue)
    minutes = _minutes(request.query.get("minutes"))
    rows = await last_minutes(request.app[RUNTIME].store, queue.name, minutes)
    return json_response(
        {
            "queue": queue.name,
            "minutes": minutes,
            "quantile_error": round(BUCKET_RELATIVE_ERROR, 4),
            "series": [row.to_json() for row in rows],
        }
    )


POINT: Doc = {
    "type": "object",
    "required": ["minute", *COUNTERS, "runs", "p50_ms", "p95_ms"],
    "properties": {
        "minute": {"type": "string", "format": "date-time"},
        **{name: {"type": "integer", "minimum": 0} for name in COUNTERS},
        "runs": {"type": "integer", "minimum": 0},
        "p50_ms": {"type": ["number", "null"]},
        "p95_ms": {"type": ["number", "null"]},
    },
}


def stats_doc(queue: LoadedQueue) -> Doc:
    """``GET /{queue}/stats``."""
    body = {
        "type": "object",
        "required": ["queue", "minutes", "quantile_error", "series"],
        "properties": {
            "queue": {"type": "string"},
            "minutes": {"type": "integer"},
            "quantile_error": {
                "type": "number",
                "description": "The largest relative error of p50_ms/p95_ms (duration buckets)",
            },
            "series": {"type": "array", "items": POINT},
        },
    }
    ok = {"200": {"description": "Runs per minute, oldest first", "content": json_body(body)}}
    get = guarded(queue, "stats", f"Runs per minute of {queue.name}", {**ok, **problems(400, 503)})
    get["parameters"] = [
        {
            "name": "minutes",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_MINUTES, "default": 60},
        }
    ]
    return get


ROUTES = (Route("GET", "/{queue}/stats", queue_stats, per_queue=stats_doc),)
