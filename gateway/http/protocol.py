"""HTTP protocol edges: the versions and expectations the gateway serves, and the headers
every answer carries.

- **Versions**: HTTP/1.1 and HTTP/1.0. A request line with another version is answered
  ``505``, one without a version (the HTTP/0.9 form, ``GET /path``) ``400``; both as problem
  JSON in HTTP/1.1, and the connection closes after the answer. (aiohttp's parser takes
  ``HTTP/0.9``, ``HTTP/2.0`` and the version-less line, and would answer in kind; versions
  it refuses itself, such as ``HTTP/1.2``, are answered ``505`` by ``gateway.http.conn_limits``.)
- **Expect**: ``100-continue`` gets its ``100 Continue``; any other expectation ``417``,
  problem JSON (aiohttp's own answer is plain text, sent before any middleware runs).
- **Headers**: every answer carries :data:`ALWAYS` (``X-Content-Type-Options: nosniff``):
  the application's through :func:`add_always_headers`, the connection-level ones (parse
  errors, the connection cap) from ``gateway.http.conn_limits``.

How: the connections' request factory (``gateway.http.conn_limits``) asks :func:`refusal` about
each parsed request head. A refused request reaches the application as HTTP/1.1, closing,
without ``Expect`` (:func:`admitted_head`, through ``RawRequestMessage._replace``, as
aiohttp's own ``BaseRequest.clone`` does), its :class:`Refusal` under :data:`REFUSAL`; the
:func:`refuse` middleware answers it before any view runs, after ``gateway.http.observe``, so it
is counted and logged like any other answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion10, HttpVersion11, RawRequestMessage
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.http.errors import ApiError, Handler

SUPPORTED_VERSIONS = frozenset({HttpVersion10, HttpVersion11})
#: The only expectation served (compared case-insensitively, as aiohttp does).
CONTINUE = "100-continue"
#: Headers on every answer.
ALWAYS: Mapping[str, str] = {"X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True, slots=True)
class Refusal:
    """The answer to a request head the gateway does not serve."""

    status: int
    message: str


REFUSAL = web.RequestKey("protocol_refusal", Refusal)


def refusal(head: RawRequestMessage, *, sent_version: bool) -> Refusal | None:
    """Why ``head`` is not served, or None. ``sent_version``: its request line had a version
    (aiohttp's parser reports a line without one as HTTP/0.9)."""
    version = head.version
    if version not in SUPPORTED_VERSIONS:
        if not sent_version:
            return Refusal(400, "the request line has no HTTP version: send HTTP/1.1")
        return Refusal(
            505, f"HTTP/{version.major}.{version.minor} is not supported: use HTTP/1.1 or 1.0"
        )
    expect = head.headers.get(hdrs.EXPECT)
    if expect and expect.lower() != CONTINUE:
        return Refusal(417, f"the only expectation supported is Expect: {CONTINUE}")
    return None


def admitted_head(head: RawRequestMessage) -> RawRequestMessage:
    """``head`` as the application sees a refused request: HTTP/1.1 (the version of the
    answer's status line), closing the connection, and without ``Expect`` (aiohttp would act
    on it before any middleware)."""
    headers = CIMultiDict(head.headers)
    headers.popall(hdrs.EXPECT, None)
    raw = tuple((name, value) for name, value in head.raw_headers if name.lower() != b"expect")
    return head._replace(
        version=HttpVersion11,
        should_close=True,
        headers=CIMultiDictProxy(headers),
        raw_headers=raw,
    )


@web.middleware
async def refuse(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a refused request (:data:`REFUSAL`) with its problem; pass the others on."""
    found = request.get(REFUSAL)
    if found is not None:
        raise ApiError(found.status, found.message)
    return await handler(request)


async def add_always_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: add :data:`ALWAYS` to every answer of the application."""
    response.headers.update(ALWAYS)
