"""Reading a push's requested start: the ``Not-Before`` header or the ``delay`` query.

``Not-Before: <RFC 3339 time with a zone>`` or ``?delay=<seconds>`` (a plain decimal,
``gateway.http.numbers``), not both; anything else is 400. How far ahead is allowed is the
queue's business (422 past its ``max_delay_seconds``, from the messaging service).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from gateway.http.errors import ApiError
from gateway.http.numbers import decimal
from shared.service import Start

HEADER = "Not-Before"
#: RFC 3339 date-time (``T`` or space, fractional seconds, ``Z`` or an offset required).
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _time(raw: str) -> datetime:
    text = raw.strip()
    if not RFC3339.fullmatch(text):
        raise ApiError(400, f"{HEADER} must be an RFC 3339 time with a zone, not {raw!r}")
    try:
        # In UTC, or out of range once normalised (e.g. year 1 at +14:00): 400.
        return datetime.fromisoformat(text.replace("z", "Z")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(400, f"{HEADER} is not a valid time: {raw!r}") from None


def requested_start(request: web.Request) -> Start | None:
    """The start the request asks for, None for at once; 400 when malformed or both."""
    header, query = request.headers.get(HEADER), request.query.get("delay")
    if header is not None and query is not None:
        raise ApiError(400, f"give {HEADER} or ?delay=, not both")
    if header is not None:
        return Start(at=_time(header))
    if query is not None:
        return Start(delay=decimal("delay", query))
    return None
