"""Slow and broken HTTP clients: read timeouts, a connection cap, JSON protocol errors.

The one module that reaches into aiohttp's server internals (``web_protocol.RequestHandler``,
``web.Server``, ``AppRunner._make_server``); aiohttp's minor version is pinned in
pyproject.toml for it, and tests/api/test_slow_clients.py proves each behaviour on a real socket.

A connection's phases, and what bounds each (the settings are ``--*-seconds`` flags):

- **waiting** for a request, after connecting or after an answer: ``idle_timeout_seconds``,
  which is aiohttp's own ``keepalive_timeout``; the connection is closed silently.
- **reading the head**, from the first byte of a request until its line and headers are
  parsed: ``header_timeout_seconds``; then ``408`` JSON and close.
- **reading the body**, from when the request is handed to the app until its last byte:
  ``body_timeout_seconds``; then the app's read raises ``ApiError(408)`` (answered as JSON
  by ``gateway.http.errors.json_errors``), nothing more is read and the connection closes after
  the answer.
- **handling**: nothing here. A long poll (``?wait=``) or a streaming answer runs as long
  as its view does; the timers above only ever bound reading a request.

**Cap.** Open connections are counted from ``connection_made`` to ``connection_lost``; one
over ``max_connections`` is accepted (the kernel already did), answered ``503`` JSON with
``Retry-After: 1`` at once and closed, without reading it. The gateway keeps accepting, so
the listening socket never stalls.

**Protocol errors** the parser finds (a header over ``--max-header-bytes``, a URL over
:data:`MAX_URL_BYTES`, an unknown method, bad header bytes, ``Content-Length`` with
``Transfer-Encoding`` ...) are answered ``431``/``414``/``400`` (``505`` for a version the
parser does not know) as problem details and logged as one INFO line, neither of which
repeats what the client sent. Request heads the parser takes but the gateway does not serve
(other HTTP versions, other expectations) are marked for ``gateway.http.protocol`` to answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http import RawRequestMessage
from aiohttp.http_exceptions import (
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.streams import StreamReader
from aiohttp.web_request import BaseRequest

from gateway.http.capacity import ConnectionGate, ConnectionLimits
from gateway.http.errors import ApiError, error_response
from gateway.http.protocol import ALWAYS, REFUSAL, admitted_head, refusal
from shared.platform.problems import PROBLEM_JSON, problem

log = logging.getLogger(__name__)

#: Longest URL (request target) accepted; longer ones are answered 414. aiohttp's default.
MAX_URL_BYTES = 8190
#: Most header fields in one request; more are answered 431. aiohttp's default.
MAX_HEADERS = 128

RequestFactory = Callable[
    [
        RawRequestMessage,
        StreamReader,
        web.RequestHandler,
        AbstractStreamWriter,
        "asyncio.Task[None]",
    ],
    BaseRequest,
]


def raw_json_answer(status: int, message: str, headers: dict[str, str] | None = None) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 answer with the problem document of
    ``message`` (``shared.platform.problems``), for writing to a transport outside any request (no
    request was parsed, or none will be)."""
    body = json.dumps(problem(status, [message]), separators=(",", ":")).encode()
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"Content-Type: {PROBLEM_JSON}; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in {**ALWAYS, **(headers or {})}.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _RequestLine:
    """The start of the request line being read, to tell a long URL (414) from a long header
    (431): the parser reports both as ``LineTooLong``. Keeps at most ``cap`` bytes."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._data = bytearray()
        self._done = False
        self.known = False

    def start(self) -> None:
        self._data.clear()
        self._done = False
        self.known = True

    def feed(self, chunk: bytes) -> None:
        if self._done or len(self._data) >= self._cap:
            return
        if not self._data:
            chunk = chunk.lstrip(b"\r\n")  # empty lines before a request are allowed
        end = chunk.find(b"\n")
        if end >= 0:
            chunk, self._done = chunk[:end], True
        self._data += chunk[: self._cap - len(self._data)]

    def url_longer_than(self, limit: int) -> bool:
        parts = bytes(self._data).split(b" ", 2)
        return self.known and len(parts) > 1 and len(parts[1]) > limit

    def has_version(self) -> bool:
        """False for a line known to be ``METHOD target`` alone (the HTTP/0.9 form)."""
        return not self.known or len(bytes(self._data).split(b" ", 2)) > 2


def protocol_error(
    exc: HttpProcessingError, line: _RequestLine, limits: ConnectionLimits
) -> tuple[int, str]:
    """The status and a message for a request the parser refused; never the client's bytes."""
    if isinstance(exc, LineTooLong):
        if line.url_longer_than(MAX_URL_BYTES):
            return 414, f"URL longer than {MAX_URL_BYTES} bytes"
        return 431, f"request header line longer than {limits.max_header_bytes} bytes"
    first = exc.message.split("\n", 1)[0].rstrip(": ")
    if first == "Too many headers received":
        return 431, f"more than {MAX_HEADERS} request headers"
    # These types quote the offending bytes in their message: answer with a fixed text.
    if isinstance(exc, BadStatusLine) and "Invalid HTTP version" in exc.message:  # llhttp's
        return 505, "HTTP version not supported: use HTTP/1.1 or 1.0"
    if isinstance(exc, BadStatusLine):  # BadHttpMethod included
        return 400, "malformed request line or unsupported method"
    if isinstance(exc, InvalidHeader):
        return 400, "malformed request header"
    if isinstance(exc, InvalidURLError):
        return 400, "malformed URL"
    # The others carry a fixed reason (llhttp's, before a dump of the data on later lines).
    return 400, f"malformed HTTP request: {first[:120]}"


class GuardedHandler(web.RequestHandler):
    """aiohttp's per-connection protocol with the head/body timers, the cap and JSON
    protocol errors (see the module docstring)."""

    def __init__(self, manager: web.Server, gate: ConnectionGate, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._gate = gate
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._line = _RequestLine(MAX_URL_BYTES + 64)  # + method, version: a URL over limit

    # --- the cap ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._gate.admit():
            self._admitted = True
        else:
            self._answer_and_close(503, "too many open connections", {"Retry-After": "1"})

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._admitted:
            self._admitted = False
            self._gate.release()
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def _answer_and_close(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(raw_json_answer(status, message, headers))
        self.force_close()  # the transport sends what it buffered, then closes

    def sent_a_version(self) -> bool:
        """False if the request being handed over had no version on its request line."""
        return self._line.has_version()

    # --- the head timer -----------------------------------------------------------------

    def _waiting_for_request(self) -> bool:
        """True while the connection has no complete request to handle: bytes arriving now
        are a request head. aiohttp's own keep-alive check (its handler task waits for a
        request), or a new connection whose first bytes arrive before that task's first step
        (Python 3.11 starts the task a loop turn after ``connection_made``; a busy loop reads
        the socket first), which would otherwise wait out the idle timeout instead."""
        waiter = self._waiter
        if waiter is not None:
            return not waiter.done()
        return self._request_count == 0 and not self._messages

    def data_received(self, data: bytes) -> None:
        if data and self._waiting_for_request():
            if self._head_timer is None:
                timeout = self._gate.limits.header_timeout
                self._head_timer = self._loop.call_later(timeout, self._head_timed_out)
                self._line.start()
            self._line.feed(data)
        super().data_received(data)
        if self._head_timer is not None and not self._waiting_for_request():
            self._head_timer.cancel()  # a request (or a parse error) is ready to handle
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_for_request():
            self._gate.slow_heads.hit()
            limit = self._gate.limits.header_timeout
            self._answer_and_close(408, f"request headers not received within {limit:g} s")

    # --- the body timer -----------------------------------------------------------------

    def body_started(self, payload: StreamReader) -> None:
        """A request is handed to the app; its body must be complete in time."""
        if payload.is_eof():
            return
        timeout = self._gate.limits.body_timeout
        self._body_timer = self._loop.call_later(timeout, self._body_timed_out, payload)
        payload.on_eof(self._body_done)

    def _body_done(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self, payload: StreamReader) -> None:
        self._body_timer = None
        if payload.is_eof():
            return
        self._gate.slow_bodies.hit()
        self.close()  # read nothing more; close once the app has answered
        limit = self._gate.limits.body_timeout
        payload.set_exception(ApiError(408, f"request body not received within {limit:g} s"))
        payload.feed_eof()  # so that aiohttp does not linger reading the rest

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        self._body_done()  # answered: an unread body is aiohttp's lingering read's business
        return await super().finish_response(request, resp, start_time)

    # --- protocol errors ----------------------------------------------------------------

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The answer to a request the parser refused (or that failed outside the app's
        middlewares): JSON, and the connection closes after it."""
        if isinstance(exc, HttpProcessingError):
            status, text = protocol_error(exc, self._line, self._gate.limits)
            log.info("refused a malformed request from %s: %d %s", request.remote, status, text)
        else:  # a bug, not the client: keep aiohttp's ERROR line with the traceback
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
            text = "internal error" if status == 500 else HTTPStatus(status).phrase
        if request.writer.output_size > 0:
            raise ConnectionError("an answer was already started; cannot send the error")
        resp = error_response(status, [text], ALWAYS)
        resp.force_close()
        return resp


class GuardedServer(web.Server):
    """aiohttp's connection factory, making :class:`GuardedHandler` connections that share
    one :class:`ConnectionGate`; built from the plain server ``AppRunner`` made."""

    def __init__(self, plain: web.Server, gate: ConnectionGate) -> None:
        super().__init__(
            plain.request_handler,
            request_factory=self._timed_factory(plain),
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
        self.gate = gate

    @staticmethod
    def _timed_factory(plain: web.Server) -> RequestFactory:
        make = plain.request_factory

        def factory(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: web.RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> BaseRequest:
            refused = None
            if isinstance(protocol, GuardedHandler):
                protocol.body_started(payload)
                refused = refusal(message, sent_version=protocol.sent_a_version())
                if refused is not None:
                    message = admitted_head(message)
                    protocol.close()  # no request after this one on the connection
            request = make(message, payload, protocol, writer, task)
            if refused is not None:
                request[REFUSAL] = refused
            return request

        return factory

    def __call__(self) -> web.RequestHandler:
        return GuardedHandler(self, self.gate, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` whose connections obey ``limits``."""

    def __init__(self, app: web.Application, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(
            app,
            keepalive_timeout=limits.idle_timeout,
            max_line_size=MAX_URL_BYTES,
            max_field_size=limits.max_header_bytes,
            max_headers=MAX_HEADERS,
            **kwargs,
        )
        self.gate = ConnectionGate(limits)

    async def _make_server(self) -> web.Server:
        return GuardedServer(await super()._make_server(), self.gate)
