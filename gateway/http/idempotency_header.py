"""``Idempotency-Key`` on ``POST /{queue}``: reading the header.

What a key does (reserve, replay, wait, stale takeover) is the messaging service's
(``shared.service.idempotent_push``); the view passes the key and the caller's identity
(``gateway.auth.callers``), which scopes keys per queue and caller.
"""

from __future__ import annotations

from aiohttp import web

from gateway.http.errors import ApiError
from shared.domain.idempotency import valid_key

HEADER = "Idempotency-Key"


def idempotency_key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key``, None without one; 400 if malformed."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not valid_key(raw):
        raise ApiError(400, f"{HEADER} must be 1 to 255 printable ASCII characters")
    return raw
