"""Remembering that the disk refused a store write (full, or read-only), for readiness.

A store records each such refusal; its ``ping`` fails while the last one is less than
:data:`HOLD_SECONDS` old and no write succeeded since, so ``/readyz`` says what pushes meet
(503) without writing anything itself.
"""

from __future__ import annotations

import math
import time

from shared.ports import StoreUnavailable

#: How long after a refused write the store's ping keeps failing (unless a write succeeds).
HOLD_SECONDS = 5.0


class DiskRefusals:
    """The last write the disk refused, and why."""

    def __init__(self, hold_seconds: float = HOLD_SECONDS) -> None:
        self._hold = hold_seconds
        self._at = -math.inf
        self._reason = ""

    def refused(self, reason: str) -> None:
        """A write was refused now because the disk is full or read-only."""
        self._at, self._reason = time.monotonic(), reason

    def wrote(self) -> None:
        """A write succeeded: the disk takes writes again."""
        self._at = -math.inf

    def check(self) -> None:
        """Raise StoreUnavailable while the last refusal is recent (see the module
        docstring)."""
        age = time.monotonic() - self._at
        if age < self._hold:
            raise StoreUnavailable(f"{self._reason} (a write was refused {age:.1f} s ago)")
