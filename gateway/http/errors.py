"""Error responses: every error the gateway sends is an RFC 9457 problem document with an
``errors`` list (``shared.platform.problems``).

The messaging service's errors are answered through one table, :data:`STATUS_OF`, by the
:func:`json_errors` middleware: views just let them through. Every 503 carries
``Retry-After``.

A client that closes its connection before its request is answered (mid-body, or while an
``Expect: 100-continue`` body never comes) is not an error of ours: one INFO line, no
traceback, and the request counts as :data:`CLIENT_CLOSED` (``499``, nginx's code for it) in
the metrics and the access log. Nothing is sent: there is no one to send it to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from gateway.http.request_ids import REQUEST_ID
from shared.domain.payloads import dumps_fast
from shared.platform.problems import PROBLEM_JSON, Item, item, items, problem
from shared.service import (
    Conflict,
    DelayTooLong,
    KeyInProgress,
    KeyReused,
    MessagingError,
    NotFound,
    TooLarge,
    Unavailable,
    UnknownQueue,
    ValidationFailed,
)
from shared.service.pausing import QueuePaused
from shared.service.searching import IndexBuilding

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The status recorded for a request whose client closed the connection before the answer.
CLIENT_CLOSED = 499
#: Seconds a client is asked to wait before retrying a 503 (or a 409 that will pass).
RETRY_AFTER_SECONDS = "1"

#: The HTTP status of each messaging error; a subclass is listed before its base.
STATUS_OF: dict[type[MessagingError], int] = {
    UnknownQueue: 404,
    NotFound: 404,
    ValidationFailed: 422,
    KeyReused: 422,
    DelayTooLong: 422,
    TooLarge: 413,
    KeyInProgress: 409,
    IndexBuilding: 409,
    Conflict: 409,
    Unavailable: 503,
    QueuePaused: 503,  # "when_paused": "refuse"
}


def _dumps(value: Any) -> str:
    return dumps_fast(value)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A compact JSON response."""
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def error_response(
    status: int,
    errors: list[Any],
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> web.Response:
    """The problem document for ``status`` and ``errors`` (a 503 always with
    ``Retry-After``), plus any ``extensions`` members (e.g. a 403's ``required_roles``)."""
    if status == 503:
        headers = {"Retry-After": RETRY_AFTER_SECONDS, **(headers or {})}
    return web.json_response(
        {**problem(status, errors), **(extensions or {})},
        status=status,
        headers=headers,
        content_type=PROBLEM_JSON,
        dumps=_dumps,
    )


def status_of(error: MessagingError) -> int:
    """The HTTP status that answers ``error`` (500 for an unmapped one: a bug)."""
    for cls, status in STATUS_OF.items():
        if isinstance(error, cls):
            return status
    return 500


def error_items(error: MessagingError) -> list[Item]:
    """The problem items that describe ``error``."""
    if isinstance(error, ValidationFailed):
        return items(error.errors)
    return [item(str(error))]


def messaging_error(error: MessagingError) -> ApiError:
    """The answer to a messaging error (KeyInProgress and IndexBuilding also say when to
    retry)."""
    retry = isinstance(error, KeyInProgress | IndexBuilding)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if retry else None
    return ApiError(status_of(error), *error_items(error), headers=headers)


class ApiError(Exception):
    """Raise from a view to answer ``status`` with a problem document listing ``messages``
    (strings, or ``{"path", "message"}`` objects); ``extensions`` are extra members of the
    problem document."""

    def __init__(
        self,
        status: int,
        *messages: Any,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(status, *messages)
        self.status = status
        self.errors = list(messages)
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})


_PASSTHROUGH = ("Allow", "WWW-Authenticate", "Retry-After", "Location")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every HTTP error into the JSON shape; never leak a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.errors, exc.headers, exc.extensions)
    except MessagingError as exc:
        answer = messaging_error(exc)
        return error_response(answer.status, answer.errors, answer.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: exc.headers[k] for k in _PASSTHROUGH if k in exc.headers}
        return error_response(exc.status, [exc.reason], headers)
    except ConnectionError:
        if not client_left(request):
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, ["internal error"])
        log.info(
            "%s %s: the client closed the connection before the answer (request_id=%s)",
            request.method,
            request.path,
            request.get(REQUEST_ID),
        )
        return web.Response(status=CLIENT_CLOSED)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, ["internal error"])


def client_left(request: web.Request) -> bool:
    """True once the client's connection is closed (or closing): a ConnectionError then is
    the client leaving, not a failure of the gateway's own connections."""
    transport = request.transport
    return transport is None or transport.is_closing()
