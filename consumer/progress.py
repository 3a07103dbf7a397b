"""``ctx.progress(fraction, note=None)``: a handler's progress, written without blocking it.

A handler may report progress in a tight loop, from the event loop or from a sync handler's
thread. :meth:`ProgressReporter.report` only validates the value, keeps it as the latest and
pokes the reporter's one writer task (``call_soon_threadsafe``): it never waits for the
store. The writer writes the latest value at most once per ``interval`` seconds
(:class:`Throttle`, a pure function of a clock), so a loop of a million reports costs a few
writes a second, and values overtaken before their turn are dropped. :meth:`close` (the run
is over, before its final status is written) writes the value still waiting at once: the
last report always lands. Writes are conditional on the consumer still holding the message
(``ProgressReports.record_progress``); each written report is announced (``changed``) so
event streams show it. A store failure is logged and the next report tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from shared.domain.message import Progress, utcnow
from shared.domain.progress import checked
from shared.ports import StoreUnavailable

log = logging.getLogger(__name__)

#: Seconds between two progress writes of one message (at most 4 a second).
PROGRESS_INTERVAL_SECONDS = 0.25

#: Writes one report; False when the message is no longer held. Raises StoreUnavailable.
WriteProgress = Callable[[Progress], Awaitable[bool]]


class Throttle:
    """When the next write may happen: at most one per ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last: float | None = None

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until a write is allowed (0: at once)."""
        if self._last is None:
            return 0.0
        return max(0.0, self._last + self._interval - now)

    def wrote(self, now: float) -> None:
        """A write started at ``now``."""
        self._last = now


class ProgressReporter:
    """One message's progress reports while its handler runs (see the module docstring)."""

    def __init__(
        self,
        write: WriteProgress,
        loop: asyncio.AbstractEventLoop,
        *,
        interval: float = PROGRESS_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._write = write
        self._loop = loop
        self._clock = clock
        self._sleep = sleep
        self._throttle = Throttle(interval)
        self._guard = threading.Lock()  # ``_latest`` and ``_closed``: any thread
        self._latest: Progress | None = None
        self._closed = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False  # the writer is writing (not waiting or sleeping)
        #: Reports written so far (for tests and logs).
        self.written = 0

    def report(self, fraction: float, note: str | None = None) -> None:
        """Record ``fraction`` (0 to 1) and an optional short ``note``; never blocks.

        Raises ValueError for a value out of range. After the run is over it does nothing.
        Safe from any thread.
        """
        value, text = checked(fraction, note)
        with self._guard:
            if self._closed:
                return
            self._latest = Progress(value, text, utcnow())
        with contextlib.suppress(RuntimeError):  # a closed loop: the process is ending
            self._loop.call_soon_threadsafe(self._poke)

    def _poke(self) -> None:
        if self._closed:
            return
        if self._task is None:
            self._task = self._loop.create_task(self._writer(), name="progress")
        self._wake.set()

    def _take(self) -> Progress | None:
        with self._guard:
            latest, self._latest = self._latest, None
        return latest

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            delay = self._throttle.wait(self._clock())
            if delay > 0:
                await self._sleep(delay)
            latest = self._take()
            if latest is not None:
                self._throttle.wrote(self._clock())
                self._busy = True
                try:
                    await self._write_one(latest)
                finally:
                    self._busy = False
            if self._closed:
                return

    async def _write_one(self, progress: Progress) -> None:
        try:
            if await self._write(progress):
                self.written += 1
        except StoreUnavailable as exc:
            log.warning("progress not recorded (store unavailable): %s", exc)

    def abandon(self) -> None:
        """The run was cancelled (lease lost, shutdown): stop, writing nothing more."""
        with self._guard:
            self._closed = True
            self._latest = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """End of the run: stop the writer and write the report still waiting, if any."""
        with self._guard:
            self._closed = True
        task, self._task = self._task, None
        if task is not None:
            if not self._busy:  # waiting or sleeping: nothing taken yet, stop it now
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a write under way finishes first (it may be the latest)
        latest = self._take()
        if latest is not None:
            await self._write_one(latest)
