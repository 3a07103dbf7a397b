"""The store's per-minute rollups of finished runs (``shared.domain.rollups``).

Consumers count runs in memory and add them here every few seconds; the gateway reads a
queue's last hour for the dashboard's charts. One row per (queue, minute), written only by
increments, so any number of consumers may add to the same row at once and the row is the
exact sum of what they added. Every method raises ``StoreUnavailable`` when the store cannot
be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.domain.rollups import Rollup


class Rollups(Protocol):
    """Per (queue, minute): a :class:`Rollup`, the sum of every one added for it."""

    async def add_rollups(self, rows: Sequence[Rollup]) -> None:
        """Add each of ``rows`` (at most one per (queue, minute)) to the stored row of its
        queue and minute, creating it if none: every counter and bucket count is
        incremented, atomically per row (concurrent adds of one row lose nothing).

        On ``StoreUnavailable`` some rows may be added and others not, and a row may be
        added though the answer was lost: the caller must not add them again (a chart may
        miss some seconds of an outage, but never counts a run twice)."""

    async def read_rollups(self, queue: str, since: datetime) -> list[Rollup]:
        """``queue``'s rows of ``since``'s minute and later, oldest first."""

    async def prune_rollups(self, before: datetime) -> int:
        """Delete every row of a minute before ``before``; how many."""
