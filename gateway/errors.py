"""JSON error responses: every error the gateway sends is ``{"errors": [...]}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A compact JSON response."""
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def error_response(
    status: int, errors: list[Any], headers: Mapping[str, str] | None = None
) -> web.Response:
    """``{"errors": errors}`` with ``status``."""
    return json_response({"errors": errors}, status=status, headers=headers)


class ApiError(Exception):
    """Raise from a view to answer ``status`` with ``{"errors": [...]}``."""

    def __init__(
        self, status: int, *messages: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, *messages)
        self.status = status
        self.errors = list(messages)
        self.headers = dict(headers or {})


_PASSTHROUGH = ("Allow", "WWW-Authenticate", "Retry-After", "Location")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every HTTP error into the JSON shape; never leak a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.errors, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: exc.headers[k] for k in _PASSTHROUGH if k in exc.headers}
        return error_response(exc.status, [exc.reason], headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, ["internal error"])
