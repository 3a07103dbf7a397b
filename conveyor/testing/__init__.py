"""Unit-testing handlers without a server: :func:`make_context` builds a real
:class:`conveyor.Context` from in-memory parts.

::

    from conveyor.testing import FakeMessaging, make_context

    messaging = FakeMessaging("handlers")  # the queue definitions: pushes are validated
    ctx = make_context(queue="checkout", messaging=messaging)
    result = await handle({"lines": [...]}, ctx)
    assert [p.queue for p in messaging.pushes] == ["orders"]

Each part can be replaced by the test's own (keep a reference to read it back afterwards):
``messaging`` (:class:`FakeMessaging`), ``progress`` (:class:`ProgressRecorder`), ``auth``
(:class:`FakeAuth`), ``services``, ``http`` (an ``aiohttp.ClientSession`` the test opens;
without one, any use of ``ctx.http`` raises). ``ctx.cancelled`` is a real
:class:`conveyor.CancelFlag`: the test sets it (``ctx.cancelled.set()``) or passes
``cancelled=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, cast

import aiohttp

from conveyor.context import CancelFlag, ClientAuth, Context, ProgressFn
from conveyor.messaging import Messaging
from conveyor.testing.fake_messaging import Definition, FakeMessaging, Push
from shared.domain.message import new_message_id
from shared.domain.progress import checked
from shared.platform.logs import message_logger
from shared.queues.client_tokens import ClientAuthError

__all__ = [
    "Definition",
    "FakeAuth",
    "FakeMessaging",
    "ProgressRecorder",
    "Push",
    "make_context",
]


class ProgressRecorder:
    """A ``ctx.progress`` that keeps every report in :attr:`reports`, as ``(fraction,
    note)`` after Conveyor's checks (a ValueError for a fraction outside 0 to 1; a long note
    cut). Safe from a sync handler's thread."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, str | None]] = []

    def __call__(self, fraction: float, note: str | None = None) -> None:
        self.reports.append(checked(fraction, note))


class FakeAuth:
    """A :class:`conveyor.ClientAuth` that hands out ``access_token``; with None,
    ``token()`` raises ClientAuthError as Conveyor does when no token can be had."""

    def __init__(self, access_token: str | None = "test-token", client_id: str = "test") -> None:
        self.client_id: str | None = client_id
        self.access_token = access_token

    async def token(self) -> str:
        """``access_token``, or ClientAuthError."""
        if self.access_token is None:
            raise ClientAuthError(f"no token for client {self.client_id!r} (FakeAuth)")
        return self.access_token


class _NoHttp:
    """``ctx.http`` of a context made without ``http=``: any use says what to do."""

    def __getattr__(self, name: str) -> NoReturn:
        raise RuntimeError(
            f"ctx.http.{name}: this test's ctx has no HTTP session; pass "
            "make_context(http=session) with an aiohttp.ClientSession the test opens"
        )


def make_context(
    *,
    message_id: str | None = None,
    queue: str = "test",
    attempt: int = 1,
    messaging: Messaging | None = None,
    progress: ProgressFn | None = None,
    auth: ClientAuth | None = None,
    services: Mapping[str, Any] | None = None,
    http: aiohttp.ClientSession | None = None,
    request_id: str | None = None,
    cancelled: bool = False,
) -> Context:
    """A :class:`conveyor.Context` for calling ``handle(message, ctx)`` in a test.

    Defaults: a fresh message id, ``attempt`` 1, an empty :class:`FakeMessaging` (any
    queue, no validation), a :class:`ProgressRecorder`, a :class:`FakeAuth`, no services,
    no HTTP session. ``ctx.log`` is the logger Conveyor binds to a message
    (``conveyor.handler.<queue>``, which pytest's ``caplog`` captures).
    """
    message_id = message_id or new_message_id()
    ctx = Context(
        id=message_id,
        queue=queue,
        attempt=attempt,
        log=message_logger(queue, message_id, attempt, request_id),
        messaging=messaging if messaging is not None else FakeMessaging(),
        http=http if http is not None else cast(aiohttp.ClientSession, _NoHttp()),
        services=services if services is not None else {},
        auth=auth if auth is not None else FakeAuth(),
        request_id=request_id,
        progress=progress if progress is not None else ProgressRecorder(),
        cancelled=CancelFlag(),
    )
    if cancelled:
        ctx.cancelled.set()
    return ctx
