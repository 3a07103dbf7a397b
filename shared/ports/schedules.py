"""The store's memory of cron schedules: the last tick each one pushed.

Kept in the store, not in a process, so any number of processes share it and it survives
restarts. Every method is atomic on one schedule and raises ``StoreUnavailable`` when the
store cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.ports.types import ScheduleState


class ScheduleStates(Protocol):
    """Per (queue, schedule name): a :class:`ScheduleState`."""

    async def schedule_states(self) -> list[ScheduleState]:
        """Every schedule state in the store (one query)."""

    async def anchor_schedule(self, state: ScheduleState) -> bool:
        """Write ``state`` if the schedule has no state yet or one with another fingerprint;
        True if written. Of concurrent anchors with one fingerprint exactly one writes."""

    async def advance_schedule(
        self, queue: str, name: str, fingerprint: str, tick: datetime, message_id: str
    ) -> bool:
        """Set ``last_tick`` to ``tick`` and ``last_message_id`` if the state still has
        ``fingerprint`` and an earlier ``last_tick`` (never moves backwards); True if so."""

    async def forget_schedules(self, queue: str, names: Sequence[str]) -> int:
        """Delete the states of ``queue``'s schedules ``names``; how many existed."""
