"""Long polling: the ``wait`` query parameter of ``GET /{queue}/{id}?wait=N``.

The waiting itself is the messaging service's (``shared.service.waiting``).
"""

from __future__ import annotations

from aiohttp import web

from gateway.http.errors import ApiError
from gateway.http.numbers import decimal, shown
from shared.service.waiting import MAX_WAIT_SECONDS


def wait_seconds(request: web.Request) -> float | None:
    """The ``wait`` query parameter: None if absent; 400 unless a plain decimal (see
    ``gateway.http.numbers``) with 0 < N <= 60."""
    raw = request.query.get("wait")
    if raw is None:
        return None
    value = decimal("wait", raw)
    if not 0 < value <= MAX_WAIT_SECONDS:
        most = f"{MAX_WAIT_SECONDS:g}"
        raise ApiError(400, f"wait must be a number of seconds > 0 and <= {most}, not {shown(raw)}")
    return value
