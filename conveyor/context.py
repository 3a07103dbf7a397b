"""What a handler receives as ``ctx`` (public API: ``from conveyor import Context``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from conveyor.messaging import Messaging
from shared.domain.progress import checked

#: ``ctx.progress(fraction, note=None)``.
ProgressFn = Callable[..., None]


def ignore_progress(fraction: float, note: str | None = None) -> None:
    """``ctx.progress`` where nothing records it (a ``ctx`` built outside a consumer run):
    checks the value like the real one (ValueError), then drops it."""
    checked(fraction, note)


class ClientAuth(Protocol):
    """``ctx.auth``: OAuth2 client-credentials tokens for the queue's ``client_id``.

    Under Conveyor the tokens come from ``--token-url`` (the secret from
    ``CONVEYOR_CLIENT_SECRET_<CLIENT_ID>``) and are cached until shortly before they
    expire; ``conveyor.testing.FakeAuth`` hands out a fixed one.
    """

    @property
    def client_id(self) -> str | None:
        """The definition's ``client_id`` (None: the definition has none)."""
        ...

    async def token(self) -> str:
        """An access token for :attr:`client_id`. Raises ClientAuthError (no
        ``client_id``, no secret or token URL configured, or the token endpoint refused)."""
        ...


class CancelFlag(asyncio.Event):
    """``ctx.cancelled``: set when a user cancels the running message.

    An :class:`asyncio.Event` for async handlers (``await ctx.cancelled.wait()``); the
    handler's task is cancelled as well. For a sync handler, whose thread cannot be stopped,
    :meth:`is_set` is safe to call from its thread, and :meth:`wait_sync` sleeps there until
    the flag is set (or ``timeout`` seconds pass). Set by Conveyor on the event loop (in a unit
    test, by the test: ``conveyor.testing``).
    """

    def __init__(self) -> None:
        super().__init__()
        # A threading.Event costs a Condition and locks; one is made only for a sync handler
        # that calls wait_sync (every message gets a CancelFlag). is_set reads one attribute,
        # which is safe from any thread.
        self._threads: threading.Event | None = None

    #: Guards ``_threads`` of every flag (taken only by ``set``, ``clear`` and ``wait_sync``,
    #: rarely: one lock for all rather than one more object per message).
    _lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._lock:
            if self._threads is not None:
                self._threads.set()

    def clear(self) -> None:
        super().clear()
        with self._lock:
            if self._threads is not None:
                self._threads.clear()

    def wait_sync(self, timeout: float | None = None) -> bool:
        """Block the calling (non-event-loop) thread until set; True if it is set."""
        with self._lock:
            if self._threads is None:
                self._threads = threading.Event()
                if super().is_set():
                    self._threads.set()
            threads = self._threads
        return threads.wait(timeout)


@dataclass(frozen=True, slots=True)
class Context:
    """The second argument of ``handle(message, ctx)``.

    ``attempt`` is 1 on the first run. ``log`` is a logger bound to the message (its lines
    carry the message id, queue and attempt). ``http`` is one shared aiohttp session: do not
    close it. ``services`` holds what ``handlers/services.py`` registered. ``messaging``
    (:class:`~conveyor.messaging.Messaging`) reaches messages on any queue; ``auth``
    (:class:`ClientAuth`) gets tokens for the definition's ``client_id``.

    ``progress(fraction, note=None)`` records how far the run is (``fraction`` from 0 to 1,
    else ValueError; ``note`` a short text) on the record, for ``GET`` and the event stream
    (``GET /{queue}/{id}/events``). It returns at once, never waiting for the store, and is
    safe from a sync handler's thread; writes are rate-limited to a few a second and the last
    report always lands before the final status. Calls after the run ended are ignored.
    """

    id: str
    queue: str
    attempt: int
    log: logging.LoggerAdapter[logging.Logger]
    messaging: Messaging
    http: aiohttp.ClientSession
    services: Mapping[str, Any]
    auth: ClientAuth
    #: The ``X-Request-Id`` of the HTTP request that pushed the message (None if unknown).
    request_id: str | None = None
    progress: ProgressFn = ignore_progress
    #: Set when a user cancels this message while it runs (see :class:`CancelFlag`).
    cancelled: CancelFlag = field(default_factory=CancelFlag)
