"""When a pushed message may start: now, after a delay, or at a time (delayed pushes).

A push asks for a later start with a delay in seconds or an absolute time, not both. A time
in the past (or a delay of 0) means at once. A start further away than the queue's
``max_delay_seconds`` is refused (:class:`DelayTooLong`). The record is ``PENDING`` with
``not_before`` until then; the consumer never starts it earlier (its claim is DEFERRED).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.service.errors import DelayTooLong


@dataclass(frozen=True, slots=True)
class Start:
    """A requested start: ``delay`` seconds from now, or ``at`` (an aware datetime)."""

    delay: float | None = None
    at: datetime | None = None

    def __post_init__(self) -> None:
        if self.delay is not None and self.at is not None:
            raise ValueError("a start is a delay or a time, not both")
        if self.delay is not None and not (math.isfinite(self.delay) and self.delay >= 0):
            raise ValueError("a delay is a finite number of seconds >= 0")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("a start time needs a time zone")

    def not_before(self, now: datetime, max_seconds: float) -> datetime | None:
        """The record's ``not_before``: None to start at once. Raises DelayTooLong."""
        if self.delay is not None:
            wait = self.delay
        elif self.at is not None:
            wait = (self.at - now).total_seconds()
        else:
            return None
        if wait > max_seconds:
            raise DelayTooLong(
                f"the start is {_seconds(wait)} s away; this queue allows at most "
                f"{max_seconds:g} s (max_delay_seconds)"
            )
        if wait <= 0:
            return None
        return now + timedelta(seconds=wait)


def _seconds(value: float) -> str:
    """``value`` for a message: whole seconds, or 3 significant digits past 10**15 (a delay
    of ``1e308`` would otherwise print 309 digits)."""
    return f"{value:.0f}" if value < 1e15 else f"{value:.3g}"
