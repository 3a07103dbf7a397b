"""Long polling: the ``wait`` query parameter of ``GET /{queue}/{id}?wait=N``.

The waiting itself is the messaging service's (``shared.service.waiting``).
"""

from __future__ import annotations

import math

from aiohttp import web

from gateway.http.errors import ApiError
from shared.service.waiting import MAX_WAIT_SECONDS


def wait_seconds(request: web.Request) -> float | None:
    """The ``wait`` query parameter: None if absent; 400 unless 0 < N <= 60."""
    raw = request.query.get("wait")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_WAIT_SECONDS):
        raise ApiError(
            400, f"wait must be a number of seconds > 0 and <= {MAX_WAIT_SECONDS:g}, not {raw!r}"
        )
    return value
