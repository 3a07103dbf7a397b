"""How many client connections the gateway can hold, and quiet reports when it cannot.

- :func:`raise_descriptor_limit`: at start, the soft ``RLIMIT_NOFILE`` is raised to the hard
  limit (an unprivileged process may do that; many systems start it at 1,024).
- :func:`connection_cap`: ``--max-connections``, lowered to fit the descriptors the process
  has, keeping :data:`RESERVED_DESCRIPTORS` for everything else (store, broker, handler
  HTTP pools, files). Connections over the cap are refused by ``gateway.http.conn_limits``, so
  client connections alone never exhaust the descriptors.
- :func:`accept_errors_summarised`: when descriptors run out anyway, every ``accept()``
  fails with ``EMFILE`` and asyncio reports each failure (with a traceback) through the
  loop's exception handler. This one logs them as one line per :data:`REPORT_INTERVAL_SECONDS`
  with a count instead; every other loop error goes to the previous handler.
- :class:`ConnectionGate`: the count of open connections against the cap, and sparse reports
  of refused and timed-out ones; :class:`EveryInterval`: that sparse reporting.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: The listening socket's backlog. asyncio's accept loop takes up to this many connections
#: per wake-up and hands each to its protocol one loop turn later, so a burst can hold up to
#: about three batches of accepted sockets that the cap has not refused yet.
LISTEN_BACKLOG = 128
#: Descriptors kept free of client connections: store and broker connections, the handlers'
#: HTTP pool (100 connections by default), files, the event loop's own (256), plus the
#: accepted-but-not-yet-refused sockets of a connection burst (two backlogs; the 256 covers
#: the third). Under 1,024 descriptors, 1,100 simultaneous connections once made ``accept()``
#: fail with 256 alone.
RESERVED_DESCRIPTORS = 256 + 2 * LISTEN_BACKLOG
#: At most one line per this many seconds for a repeated connection-level event.
REPORT_INTERVAL_SECONDS = 10.0
#: The ``errno`` values asyncio's ``accept()`` loop treats as "out of system resource".
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class EveryInterval:
    """Reports a repeated event through ``report(count)``: the first at once, then at most
    once per ``interval`` seconds with the number of events since the previous report (those
    are reported when their interval ends, whether or not more follow). Call from the loop."""

    def __init__(
        self, report: Callable[[int], None], interval: float = REPORT_INTERVAL_SECONDS
    ) -> None:
        self._report = report
        self._interval = interval
        self._last: float | None = None
        self._pending = 0
        self._flush: asyncio.TimerHandle | None = None

    def hit(self) -> None:
        """Count one event."""
        self._pending += 1
        if self._flush is not None:
            return  # a report is due at the end of this interval
        loop = asyncio.get_running_loop()
        if self._last is None or loop.time() - self._last >= self._interval:
            self._emit()
        else:
            self._flush = loop.call_at(self._last + self._interval, self._emit)

    def _emit(self) -> None:
        self._flush = None
        self._last = asyncio.get_running_loop().time()
        count, self._pending = self._pending, 0
        self._report(count)


@dataclass(frozen=True)
class ConnectionLimits:
    """What one gateway allows a client connection (see ``gateway.http.conn_limits``)."""

    max_connections: int
    header_timeout: float
    body_timeout: float
    idle_timeout: float
    max_header_bytes: int


class ConnectionGate:
    """Counts open connections against the cap; reports refusals and timeouts sparingly."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open = 0
        self.refused = EveryInterval(self._report_refused)
        self.slow_heads = EveryInterval(self._report_slow_heads)
        self.slow_bodies = EveryInterval(self._report_slow_bodies)

    def admit(self) -> bool:
        """Count a new connection if there is room; False (and it is not counted) if not."""
        if self.open >= self.limits.max_connections:
            self.refused.hit()
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """An admitted connection closed."""
        self.open -= 1

    def _report_refused(self, count: int) -> None:
        cap = self.limits.max_connections
        log.warning("refused %d connection(s) over --max-connections %d", count, cap)

    def _report_slow_heads(self, count: int) -> None:
        limit = self.limits.header_timeout
        log.info("closed %d connection(s) whose request headers took over %g s", count, limit)

    def _report_slow_bodies(self, count: int) -> None:
        limit = self.limits.body_timeout
        log.info("answered 408 to %d request(s) whose body took over %g s", count, limit)


def raise_descriptor_limit() -> int | None:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit where allowed.

    Returns the soft limit in force afterwards, or None when it is unlimited or unknown (no
    ``resource`` module). A refusal (e.g. macOS with an unlimited hard limit) keeps the old
    soft limit and is logged.
    """
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and soft != resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(wanted: int, descriptors: int | None) -> int:
    """``wanted`` connections, lowered so that ``descriptors`` leave room for the rest."""
    if descriptors is None:
        return wanted
    room = max(descriptors - RESERVED_DESCRIPTORS, descriptors // 2)
    return max(1, min(wanted, room))


def _is_accept_shortage(context: dict[str, Any]) -> bool:
    exc = context.get("exception")
    return (
        isinstance(exc, OSError)
        and exc.errno in _OUT_OF_RESOURCES
        and "socket" in context
        and "accept" in str(context.get("message", ""))
    )


@contextmanager
def accept_errors_summarised(
    loop: asyncio.AbstractEventLoop, interval: float = REPORT_INTERVAL_SECONDS
) -> Iterator[None]:
    """While the block runs, ``loop`` reports failed ``accept()`` calls (out of descriptors
    or memory) as one ERROR line per ``interval`` with a count, without a traceback; the
    previous exception handler gets every other error and is restored at exit."""
    previous = loop.get_exception_handler()
    reason = ""  # the latest failure's, e.g. "Too many open files"

    def report(count: int) -> None:
        log.error(
            "cannot accept connections: %s (%d failed accept() call(s); asyncio retries every "
            "second): raise the open-file limit or lower --max-connections",
            reason,
            count,
        )

    shortage = EveryInterval(report, interval)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal reason
        if _is_accept_shortage(context):
            reason = context["exception"].strerror
            shortage.hit()
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
