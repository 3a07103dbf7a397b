"""The scheduler's clock: the time now, and waiting until a time.

:class:`SystemClock` is the real one. :class:`FileClock` is for tests only: the time is read
from a file (one RFC 3339 timestamp) that the test rewrites to move time forward, so tests of
cron schedules in real processes never wait for real minutes. It is selected by the test-only
setting ``--test-clock-file`` (``CONVEYOR_TEST_CLOCK_FILE``); nothing else reads it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Where the scheduler gets the time."""

    def now(self) -> datetime:
        """The current time, aware UTC."""

    async def sleep_until(self, when: datetime | None, limit: float) -> None:
        """Return once ``now() >= when``, or after ``limit`` real seconds at the latest."""


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime | None, limit: float) -> None:
        delay = limit if when is None else (when - self.now()).total_seconds()
        await asyncio.sleep(max(0.0, min(delay, limit)))


class FileClock:
    """Test-only: the time written in ``path`` (see the module docstring).

    A missing or unreadable file keeps the last time read (the epoch before any).
    """

    POLL_SECONDS = 0.05

    def __init__(self, path: Path) -> None:
        self._path = path
        self._last = datetime.fromtimestamp(0, UTC)

    def now(self) -> datetime:
        try:
            text = self._path.read_text().strip()
            self._last = datetime.fromisoformat(text).astimezone(UTC)
        except (OSError, ValueError) as exc:
            log.debug("test clock %s unreadable: %s", self._path, exc)
        return self._last

    async def sleep_until(self, when: datetime | None, limit: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline and (when is None or self.now() < when):  # noqa: ASYNC110
            await asyncio.sleep(self.POLL_SECONDS)  # polls a file: no event to wait on


def make_clock(test_clock_file: Path | None) -> Clock:
    """The system clock, or the test clock when the test-only setting names a file."""
    if test_clock_file is None:
        return SystemClock()
    log.warning("scheduler clock is the TEST clock file %s (tests only)", test_clock_file)
    return FileClock(test_clock_file)
