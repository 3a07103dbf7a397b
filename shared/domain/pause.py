"""A paused queue: when and by whom (``shared.ports.QueuePauses`` keeps it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.domain.message import Json, iso


@dataclass(frozen=True, slots=True)
class PauseState:
    """``queue`` is paused since ``paused_at``, by the token subject ``paused_by`` (None: a
    token without a subject, or auth off)."""

    queue: str
    paused_at: datetime
    paused_by: str | None = None

    def to_public(self) -> dict[str, Json]:
        return {
            "queue": self.queue,
            "paused": True,
            "paused_at": iso(self.paused_at),
            "paused_by": self.paused_by,
        }


def running(queue: str) -> dict[str, Json]:
    """The public answer for a queue that is not paused."""
    return {"queue": queue, "paused": False, "paused_at": None, "paused_by": None}
