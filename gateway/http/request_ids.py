"""The request id every gateway request carries (see ``gateway.http.observe``)."""

from __future__ import annotations

from aiohttp import web

from shared.domain.ids import random_hex

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)
MAX_REQUEST_ID = 128


def request_id_for(request: web.Request) -> str:
    """The client's ``X-Request-Id`` when sane (1-128 visible ASCII characters, no spaces),
    else a fresh random one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    sane = given.isascii() and given.isprintable() and " " not in given
    if 0 < len(given) <= MAX_REQUEST_ID and sane:
        return given
    return random_hex()
